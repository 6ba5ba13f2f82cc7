#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* The process holds secrets (AMI, MQTT, database passwords, the HTTP
 * token): no core dump of it and no ptrace by the same user, however it
 * was started (a setuid() sets this too, a daemon started as its user by
 * systemd or Docker does not). */
static void no_dumps(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("prctl(PR_SET_DUMPABLE)");
}

static int become(const char *user, const char *const *own, char *err, size_t errsz)
{
	struct passwd *pw;
	uid_t ruid, euid, suid;

	if (geteuid() != 0)
		return 0;
	if (user == NULL) {
		log_warnx("running as root: set `user` to drop privileges");
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errsz, "user: no such user '%s'", user);
		return -1;
	}
	for (size_t i = 0; own && own[i]; i++) {
		if (mkdir(own[i], 0700) != 0 && errno != EEXIST) {
			snprintf(err, errsz, "%s: %s", own[i], strerror(errno));
			return -1;
		}
		if (chown(own[i], pw->pw_uid, pw->pw_gid) != 0) {
			snprintf(err, errsz, "chown %s: %s", own[i], strerror(errno));
			return -1;
		}
	}
	if (setgroups(1, &pw->pw_gid) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		snprintf(err, errsz, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if (getresuid(&ruid, &euid, &suid) != 0 || ruid != pw->pw_uid || euid != pw->pw_uid || suid != pw->pw_uid ||
	    setuid(0) == 0) {
		snprintf(err, errsz, "privileges of root were not dropped");
		return -1;
	}
	log_info("running as %s", user);
	return 0;
}

int privdrop(const char *user, const char *const *own, char *err, size_t errsz)
{
	int rc = become(user, own, err, errsz);
	if (rc == 0)
		no_dumps();
	return rc;
}
