// Validates what `stampede k8s render` writes against the Kubernetes API
// schemas that the kubernetes-models package ships (ConfigMap, Secret and
// Service from kubernetes-models/v1, Job from kubernetes-models/batch/v1),
// for the worked example (deploy/k8s/test.yaml) and for a maximal document,
// and checks what the schemas cannot: the objects reference each other
// correctly, the files come back byte for byte, YAML 1.1 and 1.2 parsers read
// the same values. A deliberately broken manifest must fail validation, so
// the validator is known to bite. Bad TEST.yaml documents must fail with one
// line and exit code 104.
//
//   node tests/k8s/validate_manifests.js --stampede build/src/cli/stampede
//
// Installs its packages with `npm ci` on first use; exits 77 (ctest: skipped)
// only when they cannot be installed (no registry).
'use strict';

const {execFileSync, spawnSync} = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const repo = path.resolve(__dirname, '..', '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const stampede = path.resolve(arg('--stampede', path.join(repo, 'build', 'src', 'cli', 'stampede')));

function loadModules() {
  if (!fs.existsSync(path.join(__dirname, 'node_modules', 'kubernetes-models'))) {
    try {
      execFileSync('npm', ['ci', '--prefix', __dirname, '--no-audit', '--no-fund'], {stdio: 'inherit'});
    } catch (e) {
      console.log('SKIP: cannot install kubernetes-models with npm ci: ' + e.message);
      process.exit(77);
    }
  }
  return {
    YAML: require(path.join(__dirname, 'node_modules', 'yaml')),
    core: require(path.join(__dirname, 'node_modules', 'kubernetes-models', 'v1')),
    batch: require(path.join(__dirname, 'node_modules', 'kubernetes-models', 'batch', 'v1')),
  };
}
const {YAML, core, batch} = loadModules();

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log('ok   - ' + name);
  } else {
    failed++;
    console.log('FAIL - ' + name + (detail !== undefined ? ': ' + detail : ''));
  }
  return !!ok;
}

const models = {
  'v1/ConfigMap': core.ConfigMap,
  'v1/Secret': core.Secret,
  'v1/Service': core.Service,
  'batch/v1/Job': batch.Job,
};

// Throws with the schema's message when `doc` does not validate.
function validate(doc) {
  const Model = models[doc.apiVersion + '/' + doc.kind];
  if (!Model) throw new Error('unexpected object ' + doc.apiVersion + '/' + doc.kind);
  new Model(doc).validate();
}

function render(testYaml, extra = []) {
  const r = spawnSync(stampede, ['k8s', 'render', testYaml, ...extra], {encoding: 'buffer'});
  return {status: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8')};
}

function parseAll(text, version) {
  const docs = YAML.parseAllDocuments(text, {version, uniqueKeys: true});
  for (const d of docs) {
    if (d.errors.length) throw new Error('YAML ' + version + ': ' + d.errors[0].message);
  }
  return docs.map((d) => d.toJS({maxAliasCount: 0}));
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const configMapKey = /^[-._a-zA-Z0-9]+$/;

// Schema validation plus the cross-object checks, for one rendered test.
// `files` maps a path relative to the test's folder to its bytes.
function checkManifests(label, text, {agents, files, secretName, namespace}) {
  let docs;
  try {
    docs = parseAll(text, '1.2');
    const docs11 = parseAll(text, '1.1');
    check(label + ': YAML 1.1 and 1.2 read the same values',
          JSON.stringify(docs) === JSON.stringify(docs11));
  } catch (e) {
    check(label + ': the output parses as YAML', false, e.message);
    return;
  }
  const kinds = docs.map((d) => d.kind + ' ' + d.metadata.name);
  const want = secretName ? 4 : 5;
  check(label + ': ' + want + ' objects in apply order', docs.length === want &&
        docs[0].kind === 'ConfigMap' && (secretName || docs[1].kind === 'Secret') &&
        docs[want - 3].kind === 'Service' && docs[want - 2].kind === 'Job' &&
        docs[want - 1].kind === 'Job', kinds.join(', '));
  for (const doc of docs) {
    try {
      validate(doc);
      check(label + ': ' + doc.kind + ' ' + doc.metadata.name + ' validates', true);
    } catch (e) {
      check(label + ': ' + doc.kind + ' ' + doc.metadata.name + ' validates', false, e.message);
    }
    check(label + ': ' + doc.metadata.name + ' is a DNS label', dnsLabel.test(doc.metadata.name) &&
          doc.metadata.name.length <= 63);
    check(label + ': ' + doc.metadata.name + ' namespace', doc.metadata.namespace === namespace,
          doc.metadata.namespace);
    check(label + ': ' + doc.metadata.name + ' labels',
          doc.metadata.labels['app.kubernetes.io/name'] === 'stampede' &&
          typeof doc.metadata.labels['app.kubernetes.io/instance'] === 'string');
  }
  const byKind = (k) => docs.filter((d) => d.kind === k);
  const cm = byKind('ConfigMap')[0];
  const service = byKind('Service')[0];
  const [coordinator, agentsJob] = byKind('Job');
  const secret = byKind('Secret')[0];

  // ConfigMap: every file, byte for byte, under 1 MiB.
  const stored = {};
  for (const [k, v] of Object.entries(cm.data || {})) stored[k] = Buffer.from(v, 'utf8');
  for (const [k, v] of Object.entries(cm.binaryData || {})) stored[k] = Buffer.from(v, 'base64');
  check(label + ': ConfigMap keys are valid', Object.keys(stored).every((k) => configMapKey.test(k)));
  const total = Object.entries(stored).reduce((n, [k, v]) => n + k.length + v.length, 0);
  check(label + ': ConfigMap under 1 MiB', total <= 1024 * 1024, total);
  const c = coordinator.spec.template.spec.containers[0];
  const mounts = c.volumeMounts.filter((m) => m.name === 'test-files');
  const cmVolume = coordinator.spec.template.spec.volumes.find((v) => v.name === 'test-files');
  check(label + ': the coordinator mounts the ConfigMap', cmVolume && cmVolume.configMap.name === cm.metadata.name);
  check(label + ': one mount per file', mounts.length === Object.keys(files).length,
        mounts.length + ' vs ' + Object.keys(files).length);
  for (const [rel, bytes] of Object.entries(files)) {
    const m = mounts.find((x) => x.mountPath === '/stampede/test/' + rel);
    check(label + ': ' + rel + ' comes back byte for byte',
          m && stored[m.subPath] && Buffer.compare(stored[m.subPath], bytes) === 0);
  }
  check(label + ': the coordinator works in /stampede/test', c.workingDir === '/stampede/test');

  // Service → coordinator pod; agents → Service.
  const podLabels = coordinator.spec.template.metadata.labels;
  check(label + ': the Service selects the coordinator pod',
        Object.entries(service.spec.selector).every(([k, v]) => podLabels[k] === v) &&
        service.spec.selector['stampede.dev/role'] === 'coordinator');
  check(label + ': the Service is headless and publishes not-ready addresses',
        service.spec.clusterIP === 'None' && service.spec.publishNotReadyAddresses === true &&
        service.spec.ports[0].port === 6565);
  const agent = agentsJob.spec.template.spec.containers[0];
  check(label + ': agents dial the Service', agent.command.join(' ') ===
        'stampede agent --coordinator ' + service.metadata.name + ':6565', agent.command.join(' '));
  check(label + ': the coordinator expects ' + agents + ' agents',
        c.command.slice(0, 2).join(' ') === 'stampede coordinator' &&
        c.command[c.command.indexOf('--agents') + 1] === String(agents) &&
        c.command.includes('0.0.0.0:6565'));

  // Jobs: one coordinator, N indexed agents, no retries.
  check(label + ': coordinator Job', coordinator.spec.parallelism === 1 &&
        coordinator.spec.backoffLimit === 0 &&
        coordinator.spec.template.spec.restartPolicy === 'Never');
  check(label + ': agents are an Indexed Job of ' + agents, agentsJob.spec.completionMode === 'Indexed' &&
        agentsJob.spec.completions === agents && agentsJob.spec.parallelism === agents &&
        agentsJob.spec.backoffLimit === 0 && agentsJob.spec.template.spec.restartPolicy === 'Never');
  check(label + ': roles', coordinator.metadata.labels['stampede.dev/role'] === 'coordinator' &&
        agentsJob.spec.template.metadata.labels['stampede.dev/role'] === 'agent');

  // The token: both pods read the same Secret key.
  for (const [who, container] of [['coordinator', c], ['agent', agent]]) {
    const ref = container.env.find((e) => e.name === 'STAMPEDE_TOKEN').valueFrom.secretKeyRef;
    const wantName = secretName || (secret && secret.metadata.name);
    check(label + ': the ' + who + ' reads STAMPEDE_TOKEN from ' + wantName, ref.name === wantName &&
          (secretName || (secret.stringData && typeof secret.stringData[ref.key] === 'string')));
  }
  // The agent's index is defined before any variable that expands it.
  const names = agent.env.map((e) => e.name);
  const index = names.indexOf('JOB_COMPLETION_INDEX');
  const attrs = names.indexOf('OTEL_RESOURCE_ATTRIBUTES');
  check(label + ': agents set service.instance.id from their index', index >= 0 && attrs > index &&
        agent.env[attrs].value.endsWith('service.instance.id=$(JOB_COMPLETION_INDEX)'));
  check(label + ': env names are unique', new Set(names).size === names.length);
  return docs;
}

function readFiles(dir, rels) {
  const out = {};
  for (const rel of rels) out[rel] = fs.readFileSync(path.join(dir, rel));
  return out;
}

function main() {
  if (!fs.existsSync(stampede)) {
    console.log('FAIL - no stampede binary at ' + stampede);
    process.exit(1);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stampede-k8s-'));
  try {
    // 1. The worked example.
    const example = path.join(repo, 'deploy', 'k8s', 'test.yaml');
    const r = render(example, ['--token', 'example-token-0123456789abcdef']);
    if (check('example: renders', r.status === 0, r.stderr)) {
      const docs = checkManifests('example', r.stdout, {
        agents: 4,
        files: readFiles(path.dirname(example), ['shop.lua', 'users.csv']),
        namespace: 'load',
      });
      const env = docs && docs[4].spec.template.spec.containers[0].env;
      const value = (n) => (env.find((e) => e.name === n) || {}).value;
      check('example: OTel block → OTEL_* on the agents',
            value('OTEL_TRACES_EXPORTER') === 'otlp' && value('OTEL_METRICS_EXPORTER') === 'otlp' &&
            value('OTEL_EXPORTER_OTLP_ENDPOINT') === 'otel-collector.observability.svc.cluster.local:4317' &&
            value('OTEL_EXPORTER_OTLP_PROTOCOL') === 'grpc' && value('OTEL_EXPORTER_OTLP_INSECURE') === 'true' &&
            value('OTEL_RESOURCE_ATTRIBUTES') ===
                'deployment.environment=staging,service.instance.id=$(JOB_COMPLETION_INDEX)',
            JSON.stringify(env));
      const again = render(example, ['--token', 'example-token-0123456789abcdef']);
      check('example: rendering is deterministic', again.stdout === r.stdout);
      const out = path.join(tmp, 'out.yaml');
      const o = render(example, ['--token', 'example-token-0123456789abcdef', '-o', out]);
      check('example: -o FILE writes the same manifests', o.status === 0 && o.stdout === '' &&
            fs.readFileSync(out, 'utf8') === r.stdout, o.stderr);
    }

    // 2. A maximal document: every field, hostile text, a binary file, a
    //    file in a subfolder.
    const dir = path.join(tmp, 'max');
    fs.mkdirSync(path.join(dir, 'data'), {recursive: true});
    const files = {
      'script.lua': Buffer.from('-- yes: no\nlocal s = "---\\n: # \' \\"" \n\tprint(s)\r\n'),
      'data/users 1.csv': Buffer.from('name,pw\n"a, b",x\n'),
      'logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]),
      'notes.txt': Buffer.from('no trailing newline: true'),
    };
    for (const [rel, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, rel), bytes);
    const maximal = `
apiVersion: stampede.dev/v1alpha1
kind: StampedeTest
metadata: {name: a-very-long-test-name-that-fits-in-the-limit-012345, namespace: load-tests}
spec:
  script: script.lua
  files: ["data/users 1.csv", logo.png, notes.txt]
  agents: 1000
  image: registry.example.com:5000/team/stampede@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  imagePullPolicy: Never
  args: ["true", "123", "-e", "A=yes: no", "--threshold", "http_req_duration{name:/api}:p(95)<500", "#"]
  env: {ON: "on", NUM: "0x1F", EMPTY: "", NL: "a\\nb"}
  activeDeadlineSeconds: 86400
  coordinator:
    serviceAccountName: stampede-runner
    resources: {limits: {cpu: "4", memory: 2Gi}, requests: {cpu: 1500m, memory: 1e9}}
    nodeSelector: {kubernetes.io/os: linux, node.example.com/pool: "load-1"}
    tolerations:
      - {key: dedicated, operator: Equal, value: load, effect: NoSchedule}
      - {operator: Exists}
  agent:
    resources: {requests: {cpu: "2", nvidia.com/gpu: "1"}}
    nodeSelector: {pool: load}
    tolerations: [{key: spot, operator: Exists, effect: NoExecute, tolerationSeconds: 60}]
  observability:
    openTelemetry:
      enabled: true
      endpoint: "https://otlp.example.com:4318"
      protocol: http/protobuf
      insecure: false
      extraEnvVars: {OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20x", OTEL_RESOURCE_ATTRIBUTES: "team=perf"}
`;
    fs.writeFileSync(path.join(dir, 'test.yaml'), maximal);
    const m = render(path.join(dir, 'test.yaml'), ['--token', 'max-token']);
    let maxDocs;
    if (check('maximal: renders', m.status === 0, m.stderr)) {
      maxDocs = checkManifests('maximal', m.stdout, {agents: 1000, files, namespace: 'load-tests'});
      const c = maxDocs[3].spec.template.spec.containers[0];
      check('maximal: args stay strings', JSON.stringify(c.command.slice(7)) ===
            JSON.stringify(['true', '123', '-e', 'A=yes: no', '--threshold',
                            'http_req_duration{name:/api}:p(95)<500', '#']), JSON.stringify(c.command));
      const env = Object.fromEntries(c.env.filter((e) => 'value' in e).map((e) => [e.name, e.value]));
      check('maximal: env values stay strings', env.ON === 'on' && env.NUM === '0x1F' &&
            env.EMPTY === '' && env.NL === 'a\nb', JSON.stringify(env));
      check('maximal: binary file in binaryData', maxDocs[0].binaryData &&
            Object.keys(maxDocs[0].binaryData).length === 1);
    }

    // 3. An existing Secret instead of a rendered one.
    const withSecret = maximal.replace('  agents: 1000\n', '  agents: 2\n  token: {secretName: team-token, key: shared}\n');
    fs.writeFileSync(path.join(dir, 'secret.yaml'), withSecret);
    const s = render(path.join(dir, 'secret.yaml'));
    if (check('existing Secret: renders', s.status === 0, s.stderr)) {
      checkManifests('existing Secret', s.stdout, {agents: 2, files, secretName: 'team-token', namespace: 'load-tests'});
    }
    const both = render(path.join(dir, 'secret.yaml'), ['--token', 'x']);
    check('existing Secret: --token is refused', both.status === 104 &&
          both.stderr.includes('spec.token.secretName'), both.stderr);

    // 4. The validator bites: deliberately broken manifests fail.
    if (maxDocs) {
      const breakages = [
        ['Job with completionMode "indexed"', 4, (d) => { d.spec.completionMode = 'indexed'; }],
        ['Job with parallelism "four"', 4, (d) => { d.spec.parallelism = 'four'; }],
        ['Job with a container without a name', 3, (d) => { delete d.spec.template.spec.containers[0].name; }],
        ['Job with a bad quantity', 3, (d) => { d.spec.template.spec.containers[0].resources.limits.cpu = 'lots'; }],
        ['Job with an env value that is a boolean', 3, (d) => { d.spec.template.spec.containers[0].env[1].value = true; }],
        ['Service with a port as text', 2, (d) => { d.spec.ports[0].port = 'sixty-five'; }],
        ['ConfigMap with binaryData that is not base64', 0, (d) => { d.binaryData['logo.png'] = '%%%'; }],
        ['Secret without stringData values as strings', 1, (d) => { d.stringData.token = 42; }],
      ];
      for (const [name, i, breakIt] of breakages) {
        const doc = JSON.parse(JSON.stringify(maxDocs[i]));
        breakIt(doc);
        let error = null;
        try {
          validate(doc);
        } catch (e) {
          error = e.message;
        }
        check('broken: ' + name + ' is rejected', error !== null, 'validated');
      }
      // And a broken document as YAML text, through the same path as the rendered ones.
      const brokenText = m.stdout.replace('completionMode: Indexed', 'completionMode: Sometimes');
      const brokenDocs = parseAll(brokenText, '1.2');
      let rejected = false;
      for (const d of brokenDocs) {
        try { validate(d); } catch (e) { rejected = true; }
      }
      check('broken: a rendered stream with completionMode: Sometimes is rejected', rejected);
    }

    // 5. Bad TEST.yaml documents: exit 104 and one line naming the field.
    const bad = [
      ['spec.agnets', (t) => t.replace('  agents: 1000\n', '  agnets: 1000\n')],
      ['spec.observability.openTelemetry.protocol', (t) => t.replace('protocol: http/protobuf', 'protocol: http')],
      ['spec.agents', (t) => t.replace('agents: 1000', 'agents: 1001')],
      ['spec.files[2]', (t) => t.replace('notes.txt]', 'missing.txt]')],
    ];
    for (const [field, edit] of bad) {
      const p = path.join(dir, 'bad.yaml');
      fs.writeFileSync(p, edit(maximal));
      const b = render(p);
      const lines = b.stderr.trim().split('\n');
      check('bad document: ' + field + ' → exit 104 with one line naming it',
            b.status === 104 && b.stdout === '' && lines.length === 1 && lines[0].includes(field),
            b.status + ' ' + b.stderr);
    }
  } finally {
    fs.rmSync(tmp, {recursive: true, force: true});
  }
  console.log(passed + ' passed, ' + failed + ' failed');
  process.exit(failed === 0 ? 0 : 1);
}

main();
