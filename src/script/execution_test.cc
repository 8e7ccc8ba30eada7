// Execution (script/execution.h): the run-wide state behind
// stampede.execution — unique scenario iteration numbers across threads,
// per-worker counters, progress, and the first abort winning.
#include "script/execution.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace stampede::script {
namespace {

constexpr int64_t kSec = 1'000'000'000;

void ConfigureTwo(Execution& ex, int workers) {
  std::vector<Execution::ScenarioInfo> sc = {
      {"browse", "constant-vus", 0, 10 * kSec, 0},
      {"buy", "shared-iterations", 5 * kSec, 60 * kSec, 100},
  };
  ex.Configure(std::move(sc), workers, nlohmann::json{{"scenarios", nlohmann::json::object()}});
}

TEST(ExecutionTest, ScenarioIterationNumbersAreUniqueAcrossThreads) {
  Execution ex;
  ex.Configure({{"s", "constant-vus", 0, kSec, 0}}, 4, nullptr);
  constexpr int kThreads = 4, kEach = 50'000;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) got[t].push_back(ex.NextScenarioIteration(0));
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  for (const auto& g : got) all.insert(g.begin(), g.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(*all.rbegin(), static_cast<uint64_t>(kThreads * kEach - 1));  // dense from 0
  EXPECT_EQ(ex.NextScenarioIteration(7), 0u);  // not a scenario: 0, no crash
}

TEST(ExecutionTest, CountersSumTheWorkersSlots) {
  Execution ex;
  ex.Configure({{"s", "constant-vus", 0, kSec, 0}}, 2, nullptr);
  std::thread a([&] {
    for (int i = 0; i < 1000; ++i) {
      ex.IterationStarted(0, 0);
      ex.IterationCompleted(0);
    }
    ex.SetVus(0, 3, 5);
  });
  std::thread b([&] {
    for (int i = 0; i < 500; ++i) {
      ex.IterationStarted(1, 0);
      ex.IterationInterrupted(1);
    }
    ex.SetVus(1, 1, 2);
  });
  a.join();
  b.join();
  ex.IterationCompleted(-1);  // the main thread's VUs (setup/teardown): not counted
  ex.IterationCompleted(9);   // out of range: ignored
  Execution::InstanceCounts c = ex.Counts();
  EXPECT_EQ(c.iterations_completed, 1000u);
  EXPECT_EQ(c.iterations_interrupted, 500u);
  EXPECT_EQ(c.vus_active, 4u);
  EXPECT_EQ(c.vus_initialized, 7u);
  EXPECT_EQ(ex.ScenarioIterationsStarted(0), 1500u);
}

TEST(ExecutionTest, ProgressByTimeOrByIterations) {
  Execution ex;
  ConfigureTwo(ex, 1);
  EXPECT_EQ(ex.Progress(0, 5 * kSec), 0.0);  // not started yet
  ex.SetStart(100 * kSec, 1'700'000'000LL * kSec);
  EXPECT_DOUBLE_EQ(ex.Progress(0, 105 * kSec), 0.5);  // half of 10 s
  EXPECT_DOUBLE_EQ(ex.Progress(0, 200 * kSec), 1.0);  // clamped
  EXPECT_DOUBLE_EQ(ex.Progress(1, 104 * kSec), 0.0);  // starts at 5 s
  // shared-iterations: 30 of 100 started beats 6 s of 60.
  for (int i = 0; i < 30; ++i) ex.IterationStarted(0, 1);
  EXPECT_DOUBLE_EQ(ex.Progress(1, 111 * kSec), 0.3);
  EXPECT_EQ(ex.ScenarioIndex("buy"), 1);
  EXPECT_EQ(ex.ScenarioIndex("nope"), -1);
  EXPECT_EQ(ex.start_unix_ns(), 1'700'000'000LL * kSec);
}

TEST(ExecutionTest, TheFirstAbortWins) {
  Execution ex;
  ConfigureTwo(ex, 2);
  EXPECT_FALSE(ex.aborted());
  std::vector<std::thread> threads;
  std::atomic<int> firsts{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      if (ex.RequestAbort("reason " + std::to_string(t))) ++firsts;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(firsts.load(), 1);
  EXPECT_TRUE(ex.aborted());
  EXPECT_EQ(ex.abort_reason().rfind("reason ", 0), 0u);
}

}  // namespace
}  // namespace stampede::script
