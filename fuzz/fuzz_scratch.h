/* A fuzz target's scratch file: in a folder of its own (in /dev/shm where
 * it can, so runs stay fast), made at the first input, the file created
 * anew for each.  Included once per target. */
#ifndef PBXBUS_FUZZ_SCRATCH_H
#define PBXBUS_FUZZ_SCRATCH_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_dir[64], fuzz_path[128];

/* fuzz_path (fuzz_dir/name) open for writing, emptied; -1 on failure. */
static int fuzz_scratch_file(const char *what, const char *name)
{
	if (fuzz_dir[0] == '\0') {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/pbxbus-fuzz-%s-XXXXXX",
		         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", what);
		if (mkdtemp(fuzz_dir) == NULL) {
			fuzz_dir[0] = '\0';
			return -1;
		}
		snprintf(fuzz_path, sizeof(fuzz_path), "%s/%s", fuzz_dir, name);
	}
	return open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

#endif
