#include "engine/execution_segment.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <utility>

#include "core/error.h"
#include "engine/json_text.h"

namespace stampede::engine {
namespace {

using json_text::Q;

constexpr std::string_view kSegmentFlag = "--execution-segment";
constexpr std::string_view kSequenceFlag = "--execution-segment-sequence";
constexpr std::string_view kSegmentExample = "1/4:2/4";
constexpr std::string_view kSequenceExample = "0,1/4,2/4,3/4,1";
// More digits could overflow uint64 (10^19 > 2^64 / 2).
constexpr size_t kMaxDigits = 18;

[[noreturn]] void Fail(std::string_view flag, std::string_view text, std::string_view message) {
  throw core::ConfigError(fmt::format("{} {}: {}", flag, Q(text), message));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool AllDigits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

uint64_t Pow10(size_t n) {
  uint64_t v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

// "12", "0.25", ".5", "3." as an exact (unreduced) num/den; false if not
// a plain decimal of at most kMaxDigits digits.
bool ParseDecimal(std::string_view s, uint64_t* num, uint64_t* den) {
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (whole.size() + frac.size() == 0 || whole.size() + frac.size() > kMaxDigits) return false;
  if (!AllDigits(whole) || !AllDigits(frac)) return false;
  uint64_t n = 0;
  for (char c : whole) n = n * 10 + static_cast<uint64_t>(c - '0');
  for (char c : frac) n = n * 10 + static_cast<uint64_t>(c - '0');
  *num = n;
  *den = Pow10(frac.size());
  return true;
}

// One value of the flags' syntax (k6 stringToRat): "1/4", "0.25", "25%".
// On failure returns nullopt and sets `reason`, which quotes the value.
std::optional<Rational> ParseValue(std::string_view raw, std::string* reason) {
  std::string_view s = Trim(raw);
  const std::string shown = Q(s);
  if (!s.empty() && s.front() == '-') {
    *reason = fmt::format("{} can't be negative; use values from 0 to 1", shown);
    return std::nullopt;
  }
  uint64_t num = 0;
  uint64_t den = 1;
  bool ok = false;
  if (!s.empty() && s.back() == '%') {
    ok = ParseDecimal(s.substr(0, s.size() - 1), &num, &den) && den <= UINT64_MAX / 100;
    den *= 100;
  } else if (size_t slash = s.find('/'); slash != std::string_view::npos) {
    std::string_view a = s.substr(0, slash);
    std::string_view b = s.substr(slash + 1);
    uint64_t unit = 1;  // 1 for a plain integer
    ok = !a.empty() && !b.empty() && AllDigits(a) && AllDigits(b) && ParseDecimal(a, &num, &unit) &&
         ParseDecimal(b, &den, &unit);
    if (ok && den == 0) {
      *reason = fmt::format("{} divides by zero", shown);
      return std::nullopt;
    }
  } else {
    ok = ParseDecimal(s, &num, &den);
  }
  if (!ok) {
    *reason = fmt::format("{} is not a fraction, decimal or percentage", shown);
    return std::nullopt;
  }
  Rational r = Rational::Of(num, den);
  if (r.den > kMaxSegmentDenominator) {
    *reason =
        fmt::format("{} is too fine: use a denominator up to {}", shown, kMaxSegmentDenominator);
    return std::nullopt;
  }
  return r;
}

// a - b for a >= b.
Rational Minus(Rational a, Rational b) {
  using U = unsigned __int128;
  U num = static_cast<U>(a.num) * b.den - static_cast<U>(b.num) * a.den;
  U den = static_cast<U>(a.den) * b.den;
  // Reduce in 128 bits: Euclid on the wide values.
  U x = num;
  U y = den;
  while (y != 0) {
    U t = x % y;
    x = y;
    y = t;
  }
  num /= x;
  den /= x;
  if (num > UINT64_MAX || den > UINT64_MAX) {
    throw std::length_error("execution segment: a length's denominator is too large");
  }
  return Rational{static_cast<uint64_t>(num), static_cast<uint64_t>(den)};
}

constexpr Rational kZero{0, 1};
constexpr Rational kOne{1, 1};

std::string JoinSegments(const std::vector<ExecutionSegment>& segments) {
  constexpr size_t kShown = 8;
  std::string out;
  for (size_t i = 0; i < segments.size() && i < kShown; ++i) {
    if (i > 0) out += ", ";
    out += segments[i].ToString();
  }
  if (segments.size() > kShown) out += fmt::format(", ... ({} in all)", segments.size());
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Rational

Rational Rational::Of(uint64_t num, uint64_t den) {
  if (den == 0) throw std::invalid_argument("Rational: zero denominator");
  uint64_t g = std::gcd(num, den);
  return Rational{num / g, den / g};
}

std::string Rational::ToString() const {
  if (den == 1) return fmt::format("{}", num);
  return fmt::format("{}/{}", num, den);
}

std::strong_ordering Rational::operator<=>(const Rational& other) const {
  using U = unsigned __int128;
  U a = static_cast<U>(num) * other.den;
  U b = static_cast<U>(other.num) * den;
  return a <=> b;
}

// ---------------------------------------------------------------------------
// ExecutionSegment

ExecutionSegment::ExecutionSegment(Rational from, Rational to) : from_(from), to_(to) {
  if (from.den == 0 || to.den == 0 || !(from < to) || kOne < to) {
    throw std::invalid_argument(
        fmt::format("ExecutionSegment: {}:{} is not within 0 <= from < "
                    "to <= 1",
                    from.ToString(), to.ToString()));
  }
}

Rational ExecutionSegment::Length() const { return Minus(to_, from_); }

std::string ExecutionSegment::ToString() const { return from_.ToString() + ":" + to_.ToString(); }

ExecutionSegment ExecutionSegment::Parse(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return ExecutionSegment();  // k6: "" is the whole test
  size_t colon = s.find(':');
  if (colon != std::string_view::npos && s.find(':', colon + 1) != std::string_view::npos) {
    Fail(kSegmentFlag, text,
         fmt::format("expected <start>:<end> or <end>, e.g. {} or 1/4", kSegmentExample));
  }
  std::string reason;
  Rational from = kZero;
  std::string_view to_text = s;
  if (colon != std::string_view::npos) {
    std::optional<Rational> v = ParseValue(s.substr(0, colon), &reason);
    if (!v) Fail(kSegmentFlag, text, fmt::format("{} (e.g. {})", reason, kSegmentExample));
    from = *v;
    to_text = s.substr(colon + 1);
  }
  std::optional<Rational> to = ParseValue(to_text, &reason);
  if (!to) Fail(kSegmentFlag, text, fmt::format("{} (e.g. {})", reason, kSegmentExample));
  if (!(from < *to)) {
    Fail(kSegmentFlag, text,
         fmt::format("the start must be below the end (e.g. {})", kSegmentExample));
  }
  if (kOne < *to) {
    Fail(kSegmentFlag, text,
         fmt::format("the end can't be above 1 (e.g. {})",
                     from < kOne ? from.ToString() + ":1" : std::string(kSegmentExample)));
  }
  return ExecutionSegment(from, *to);
}

// ---------------------------------------------------------------------------
// ExecutionSegmentSequence

ExecutionSegmentSequence::ExecutionSegmentSequence(std::vector<Rational> points)
    : points_(std::move(points)) {
  if (points_.size() == 1) {
    throw std::invalid_argument("ExecutionSegmentSequence: needs at least 2 points");
  }
  for (size_t i = 0; i < points_.size(); ++i) {
    if (points_[i].den == 0 || kOne < points_[i] || (i > 0 && !(points_[i - 1] < points_[i]))) {
      throw std::invalid_argument(
          "ExecutionSegmentSequence: the points must increase from >= 0 to <= 1");
    }
  }
}

ExecutionSegmentSequence ExecutionSegmentSequence::Parse(std::string_view text) {
  if (Trim(text).empty()) return ExecutionSegmentSequence();  // k6: not given
  std::vector<Rational> points;
  std::string reason;
  std::string_view rest = text;
  while (true) {
    size_t comma = rest.find(',');
    std::optional<Rational> v = ParseValue(rest.substr(0, comma), &reason);
    if (!v) Fail(kSequenceFlag, text, fmt::format("{} (e.g. {})", reason, kSequenceExample));
    if (kOne < *v) {
      Fail(kSequenceFlag, text,
           fmt::format("{} is above 1; the points go from 0 to 1 (e.g. {})", v->ToString(),
                       kSequenceExample));
    }
    if (!points.empty() && !(points.back() < *v)) {
      Fail(kSequenceFlag, text,
           fmt::format("the points must increase, but {} follows {} (e.g. {})", v->ToString(),
                       points.back().ToString(), kSequenceExample));
    }
    points.push_back(*v);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (points.size() < 2) {
    Fail(kSequenceFlag, text,
         fmt::format("needs at least 2 points, the ends of the segments (e.g. {})",
                     kSequenceExample));
  }
  return ExecutionSegmentSequence(std::move(points));
}

std::vector<ExecutionSegment> ExecutionSegmentSequence::Segments() const {
  std::vector<ExecutionSegment> out;
  for (size_t i = 1; i < points_.size(); ++i) out.emplace_back(points_[i - 1], points_[i]);
  return out;
}

std::string ExecutionSegmentSequence::ToString() const {
  std::string out;
  for (size_t i = 0; i < points_.size(); ++i) {
    if (i > 0) out += ",";
    out += points_[i].ToString();
  }
  return out;
}

// ---------------------------------------------------------------------------
// Striping

std::vector<Stripe> StripeSegments(const std::vector<Rational>& lengths, uint64_t* lcd_out) {
  if (lengths.empty()) throw std::invalid_argument("StripeSegments: no segments");
  // L: the least common denominator of the lengths.
  uint64_t lcd = 1;
  for (const Rational& r : lengths) {
    if (r.num == 0 || r.den == 0) throw std::invalid_argument("StripeSegments: empty segment");
    unsigned __int128 next = static_cast<unsigned __int128>(lcd / std::gcd(lcd, r.den)) * r.den;
    if (next > kMaxSegmentDenominator) {
      throw std::length_error(fmt::format(
          "their striping would repeat only every {} numbers or more, above the limit of {}",
          static_cast<uint64_t>(std::min<unsigned __int128>(next, UINT64_MAX)),
          kMaxSegmentDenominator));
    }
    lcd = static_cast<uint64_t>(next);
  }
  // n_i: each segment's numbers per L. They must fill L exactly.
  const size_t count = lengths.size();
  std::vector<uint64_t> norm(count);
  unsigned __int128 total = 0;
  for (size_t i = 0; i < count; ++i) {
    norm[i] = lengths[i].num * (lcd / lengths[i].den);
    total += norm[i];
  }
  if (total != lcd) throw std::invalid_argument("StripeSegments: the lengths don't sum to 1");
  // Bigger segments choose first: they need the most numbers and would
  // otherwise get runs of consecutive ones (k6 sorts the same way, stably).
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return norm[a] > norm[b]; });
  std::vector<uint64_t> taken(count, 0);
  std::vector<std::vector<uint64_t>> residues(count);
  for (size_t i = 0; i < count; ++i) residues[i].reserve(norm[i]);
  for (uint64_t t = 0; t < lcd; ++t) {
    // Number t goes to the first segment not ahead of its share:
    // t >= taken * L / n, i.e. t * n >= taken * L (k6's integer test
    // "t > q || (t == q && exact)" with q = taken * L / n says the same).
    // Some segment always qualifies: if none did, summing taken_i * L >
    // t * n_i over all i would give t * L > t * L.
    bool given = false;
    for (size_t i : order) {
      if (static_cast<unsigned __int128>(t) * norm[i] >=
          static_cast<unsigned __int128>(taken[i]) * lcd) {
        ++taken[i];
        residues[i].push_back(t);
        given = true;
        break;
      }
    }
    if (!given) throw std::logic_error("StripeSegments: number left unassigned");
  }
  std::vector<Stripe> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i)
    out.push_back(Stripe::FromResidues(lcd, std::move(residues[i])));
  if (lcd_out != nullptr) *lcd_out = lcd;
  return out;
}

// ---------------------------------------------------------------------------
// ExecutionTuple

ExecutionTuple::ExecutionTuple(std::vector<Rational> points, size_t index)
    : points_(std::move(points)), index_(index) {
  std::vector<Rational> lengths;
  lengths.reserve(points_.size() - 1);
  for (size_t i = 1; i < points_.size(); ++i) lengths.push_back(Minus(points_[i], points_[i - 1]));
  stripes_ = StripeSegments(lengths, &lcd_);
}

namespace {

// k6 GetFilledExecutionSegmentSequence, after the Options.Validate check
// that the segment is one of the given sequence's; returns the full
// sequence's points and the segment's index in it.
std::pair<std::vector<Rational>, size_t> FilledSequence(const ExecutionSegment& segment,
                                                        const ExecutionSegmentSequence& sequence) {
  std::vector<Rational> points;
  if (sequence.empty()) {
    points = {segment.from(), segment.to()};
  } else {
    points = sequence.points();
    std::vector<ExecutionSegment> segments = sequence.Segments();
    if (std::find(segments.begin(), segments.end(), segment) == segments.end()) {
      throw core::ConfigError(fmt::format(
          "{} {} is not one of the segments of {} {}; use one of {}", kSegmentFlag,
          Q(segment.ToString()), kSequenceFlag, Q(sequence.ToString()), JoinSegments(segments)));
    }
  }
  if (points.front() != kZero) points.insert(points.begin(), kZero);
  if (points.back() != kOne) points.push_back(kOne);
  size_t index =
      static_cast<size_t>(std::find(points.begin(), points.end(), segment.from()) - points.begin());
  return {std::move(points), index};
}

}  // namespace

ExecutionTuple::ExecutionTuple(const ExecutionSegment& segment,
                               const ExecutionSegmentSequence& sequence) {
  auto [points, index] = FilledSequence(segment, sequence);
  try {
    *this = ExecutionTuple(std::move(points), index);
  } catch (const std::length_error& e) {
    std::string_view flag = sequence.empty() ? kSegmentFlag : kSequenceFlag;
    std::string value = sequence.empty() ? segment.ToString() : sequence.ToString();
    throw core::ConfigError(fmt::format(
        "{} {}: the segments' lengths are too fine to split VUs and iterations "
        "exactly: {}; use fractions with smaller denominators, e.g. {}",
        flag, Q(value), e.what(), sequence.empty() ? kSegmentExample : kSequenceExample));
  }
}

int64_t ExecutionTuple::Scale(int64_t value) const {
  if (value <= 0) return 0;
  return static_cast<int64_t>(stripe().CountBelow(static_cast<uint64_t>(value)));
}

std::optional<ExecutionTuple> ExecutionTuple::ScaledBy(int64_t value) const {
  if (value < 1) return std::nullopt;
  if (static_cast<uint64_t>(value) % lcd_ == 0) return *this;  // the same cut
  // Each segment's new length is its share of `value` over `value`; the
  // shares sum to `value`, so the new points end at exactly 1.
  std::vector<Rational> points{kZero};
  std::optional<size_t> index;
  uint64_t before = 0;
  for (size_t i = 0; i < stripes_.size(); ++i) {
    uint64_t share = stripes_[i].CountBelow(static_cast<uint64_t>(value));
    if (share == 0) continue;  // dropped, as k6 does
    if (i == index_) index = points.size() - 1;
    before += share;
    points.push_back(Rational::Of(before, static_cast<uint64_t>(value)));
  }
  if (!index) return std::nullopt;
  return ExecutionTuple(std::move(points), *index);
}

// ---------------------------------------------------------------------------
// SegmentForInstance

Plan SegmentForInstance(const Plan& whole, const ExecutionSegment& segment,
                        const ExecutionSegmentSequence& sequence) {
  if (whole.part != PlanPart::kWhole) {
    throw std::invalid_argument("SegmentForInstance: the plan is not the whole test");
  }
  const ExecutionTuple tuple(segment, sequence);
  // The re-cut tuple of k6's shared-iterations (by vus) and arrival-rate
  // executors (by maxVUs), with its errors in the scenario's terms.
  auto scaled_by = [&](const Scenario& s, int64_t value,
                       std::string_view key) -> std::optional<ExecutionTuple> {
    try {
      return tuple.ScaledBy(value);
    } catch (const std::length_error& e) {
      throw core::ConfigError(fmt::format(
          "scenario {}: \"{}\" {} can't be split exactly by {} {}: {}; use a \"{}\" that is a "
          "multiple of {} or at most {}",
          Q(s.name), key, value, sequence.empty() ? kSegmentFlag : kSequenceFlag,
          Q(sequence.empty() ? segment.ToString() : sequence.ToString()), e.what(), key,
          tuple.lcd(), kMaxSegmentDenominator));
    }
  };
  Plan share = whole;
  share.part = PlanPart::kInstance;
  for (Scenario& s : share.scenarios) {
    s.vu_stripe = tuple.stripe();
    switch (s.type) {
      case ExecutorType::kSharedIterations: {
        // k6 SharedIterationsConfig.GetIterations: the iterations follow
        // the VUs, not the segment's length.
        std::optional<ExecutionTuple> by_vus = scaled_by(s, s.vus, "vus");
        s.vus = tuple.Scale(s.vus);
        s.iterations = by_vus && s.vus > 0 ? by_vus->Scale(s.iterations) : 0;
        break;
      }
      case ExecutorType::kPerVuIterations:
      case ExecutorType::kConstantVus:
        s.vus = tuple.Scale(s.vus);
        break;
      case ExecutorType::kRampingVus:
        s.stripe = tuple.stripe();
        break;
      case ExecutorType::kConstantArrivalRate:
      case ExecutorType::kRampingArrivalRate: {
        // k6 Init: GetNewExecutionTupleFromValue(maxVUs), so an instance
        // starts iterations only if it has VUs for them.
        std::optional<ExecutionTuple> by_max = scaled_by(s, s.max_vus, "maxVUs");
        s.stripe = by_max ? by_max->stripe() : Stripe::None();
        s.pre_allocated_vus = tuple.Scale(s.pre_allocated_vus);
        s.max_vus = tuple.Scale(s.max_vus);
        break;
      }
    }
  }
  return share;
}

}  // namespace stampede::engine
