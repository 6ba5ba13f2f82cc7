/* libFuzzer: the config file parser on arbitrary files, with the bridge's keys. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge_config.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[1024];
	struct config cfg;
	struct bridge_settings s;
	int fd = memfd_create("fuzz-config", 0);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	fchmod(fd, 0600);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_init(&cfg, bridge_keys, bridge_nkeys) == 0) {
		if (config_load_file(&cfg, path, err, sizeof(err)) == 0)
			(void)bridge_settings_load(&s, &cfg, err, sizeof(err));
		config_free(&cfg);
	}
	close(fd);
	return 0;
}
