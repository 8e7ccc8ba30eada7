// kill -9 safety: a process writing a run store is killed at a random point;
// the file passes PRAGMA integrity_check and holds every second the process
// reported as committed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "store/run_reader.h"
#include "store/store_test_util.h"

namespace stampede::store {
namespace {

std::string Query(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return out;
}

TEST(StoreCrashTest, KillNineKeepsEveryCommittedSecond) {
  testing::TempDir dir;
  const std::string path = dir.Path("crash.db");
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    execl(STORE_CRASH_HELPER, STORE_CRASH_HELPER, path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* in = fdopen(out[0], "r");
  std::vector<int> committed;
  char line[128];
  while (committed.size() < 6 && std::fgets(line, sizeof line, in) != nullptr) {
    int s = -1;
    if (std::sscanf(line, "committed %d", &s) == 1) committed.push_back(s);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  std::fclose(in);
  ASSERT_EQ(committed.size(), 6u);
  EXPECT_TRUE(WIFSIGNALED(status));

  // The reader opens the killed run (its -wal is replayed).
  RunReader reader(path);
  EXPECT_FALSE(reader.meta().exit_code.has_value());
  EXPECT_GE(reader.meta().last_second, committed.back());
  std::vector<int64_t> seconds;
  for (const PointRow& p : reader.Points("http_reqs")) seconds.push_back(p.second);
  for (int s : committed) {
    EXPECT_NE(std::find(seconds.begin(), seconds.end(), s), seconds.end()) << "second " << s;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  EXPECT_EQ(Query(db, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(Query(db, "SELECT COUNT(*) FROM point WHERE second = " +
                          std::to_string(committed.back())) != "0",
            true);
  sqlite3_close(db);
}

}  // namespace
}  // namespace stampede::store
