// Temporary files of the atomic writers (checkpoints, table caches): "<path>.tmp.<pid>", renamed over <path>.
// A writer killed mid-write (kill -9, power loss) leaves its temporary behind; the next write of <path>
// removes those whose process is gone.
#pragma once

#include <string>

namespace fasttab {

// Removes "<path>.tmp.<pid>" files in path's directory whose pid is not a live process (kill(pid, 0) fails with
// ESRCH). This process's own and live processes' temporaries are left alone. Returns how many were removed;
// errors (an unreadable directory, a file removed meanwhile) are ignored: the cleanup is best-effort.
int remove_stale_temp_files(const std::string& path);

}  // namespace fasttab
