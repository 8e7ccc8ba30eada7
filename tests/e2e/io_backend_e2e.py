#!/usr/bin/env python3
"""The event loop's I/O backends from the command line (issue 13).

    python3 tests/e2e/io_backend_e2e.py --stampede build/src/cli/stampede \
        --deny-io-uring build/tests/deny_io_uring [-k SUBSTR]

`--io epoll|io_uring|auto` and STAMPEDE_IO: the summary names the backend in
effect; a kernel that refuses io_uring (here a real seccomp filter,
tests/support/deny_io_uring.c, as container runtimes install) falls back to
epoll with exactly one line when io_uring was asked for, and silently under
auto; a bad value is one line naming the flag (or variable) and the fix.
Where io_uring is allowed: plain, https, large bodies and connections closed
after each request work on it with the same counts as on epoll.

Reuses the harness of run_cli_tests.py; prints one line per case and exactly
`N passed, M failed`.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_cli_tests as h  # noqa: E402

h.CASES.clear()
case, check, check_eq = h.case, h.check, h.check_eq

DENY = None  # path of deny_io_uring, from --deny-io-uring


def denied(t, *args, env=None):
    """Runs `stampede run ARGS` with io_uring_setup refused by seccomp."""
    cmd, export_path = t.cmd(args, True)
    p = subprocess.run([DENY] + cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=h.RUN_TIMEOUT, env=h.child_env(env), preexec_fn=h._pdeathsig,
                       cwd=t.tmp)
    r = h.RunResult([DENY] + cmd, p.returncode, p.stdout.decode("utf-8", "replace"),
                    p.stderr.decode("utf-8", "replace"), export_path)
    t.results.append(r)
    return r


def io_line(r):
    m = re.search(r"^\s*io: (\S+)$", r.stdout, re.M)
    check(m is not None, "the summary has no `io:` line\n" + r.describe())
    return m.group(1)


def uring_lines(r):
    return [ln for ln in r.stderr.splitlines() if "io_uring" in ln]


def uring_allowed(t):
    r = t.run("--url", t.nginx().url, "--io", "auto", "-i", "1", "--no-store", "--quiet")
    r.expect_rc(0)
    if io_line(r) != "io_uring":
        raise h.Skip("this kernel or container refuses io_uring")


@case
def a_refused_io_uring_falls_back_to_epoll_in_one_line(t):
    ngx = t.nginx()
    r = denied(t, "--url", ngx.url, "--io", "io_uring", "--vus", "5", "-i", "200", "--no-store")
    r.expect_rc(0)
    h.check_success(r, 200)
    check_eq(io_line(r), "epoll", "backend in effect")
    lines = uring_lines(r)
    check_eq(len(lines), 1, "lines about io_uring on stderr: %r" % lines)
    check("using epoll" in lines[0] and "--io" in lines[0] and "seccomp" in lines[0],
          "the line names the cause and the flag: %r" % lines[0])


@case
def the_environment_variable_falls_back_the_same_way(t):
    r = denied(t, "--url", t.nginx().url, "-i", "50", "--no-store", env={"STAMPEDE_IO": "io_uring"})
    r.expect_rc(0)
    h.check_success(r, 50)
    check_eq(io_line(r), "epoll", "backend in effect")
    check_eq(len(uring_lines(r)), 1, "one line about io_uring")


@case
def auto_under_refusal_is_epoll_without_a_word(t):
    r = denied(t, "--url", t.nginx().url, "--io", "auto", "-i", "50", "--no-store")
    r.expect_rc(0)
    h.check_success(r, 50)
    check_eq(io_line(r), "epoll", "backend in effect")
    check_eq(uring_lines(r), [], "lines about io_uring")


@case
def the_default_is_epoll_and_says_so(t):
    r = t.run("--url", t.nginx().url, "-i", "20", "--no-store", env={"STAMPEDE_IO": ""})
    r.expect_rc(0)
    check_eq(io_line(r), "epoll", "default backend")


@case
def a_bad_backend_is_one_line_naming_the_flag_or_the_variable(t):
    r = t.run("--url", t.nginx().url, "--io", "kqueue", "-i", "1", "--no-store", export=False)
    r.expect_rc(104)
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    check_eq(len(err), 1, "stderr lines: %r" % err)
    check("--io" in err[0] and "kqueue" in err[0] and "epoll, io_uring or auto" in err[0], err[0])
    r = t.run("--url", t.nginx().url, "-i", "1", "--no-store", export=False,
              env={"STAMPEDE_IO": "bogus"})
    r.expect_rc(104)
    check("STAMPEDE_IO" in r.stderr and "bogus" in r.stderr, r.stderr)


@case
def io_uring_carries_plain_https_big_bodies_and_closing_connections(t):
    uring_allowed(t)
    ngx = t.nginx()
    for io in ("epoll", "io_uring"):
        r = t.run("--url", ngx.url, "--io", io, "--vus", "10", "-i", "2000", "--no-store")
        h.check_success(r, 2000)
        check_eq(io_line(r), io, "backend in effect")
        check_eq(r.metric("data_received")["count"] >= 2000 * h.NGINX_INDEX_SIZE, True,
                 "%s: data_received covers 2000 bodies" % io)
        r = t.run("--url", ngx.https_url, "--io", io, "-k", "--vus", "4", "-i", "200", "--no-store")
        h.check_success(r, 200)
        # 100 KiB bodies: many receive buffers per response.
        r = t.run("--url", ngx.url.rstrip("/") + "/big.bin", "--io", io, "--vus", "4", "-i", "300",
                  "--no-store")
        h.check_success(r, 300)
        check(r.metric("data_received")["count"] >= 300 * 102400,
              "%s: data_received %s < 300 x 100 KiB" % (io, r.metric("data_received")["count"]))
        r = t.run("--url", ngx.url, "--io", io, "--no-connection-reuse", "--vus", "4", "-i", "300",
                  "--no-store")
        h.check_success(r, 300)


def main():
    global DENY
    argv = sys.argv[1:]
    if "--deny-io-uring" in argv:
        i = argv.index("--deny-io-uring")
        DENY = os.path.abspath(argv[i + 1])
        del argv[i:i + 2]
    if DENY is None or not os.access(DENY, os.X_OK):
        print("FAIL setup: --deny-io-uring PATH (tests/support/deny_io_uring.c, built as "
              "deny_io_uring) is required")
        print("0 passed, 1 failed")
        return 1
    sys.argv = [sys.argv[0]] + argv
    return h.main()


if __name__ == "__main__":
    sys.exit(main())
