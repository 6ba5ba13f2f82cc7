#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox_refused.h"
#include "unit.h"

void test_refused_ids_are_listed_and_lines_bounded(void)
{
	struct outbox_refused r;
	char dir[64] = "/tmp/pbxbus-refused-XXXXXX", id[32], line[128];
	int lines = 0, in_order = 1;

	CHECK(mkdtemp(dir) != NULL);
	outbox_refused_init(&r, dir);
	for (int i = 0; i < REFUSED_LINE_IDS + 4; i++) {
		snprintf(id, sizeof(id), "lab:17953418%02d.0", i);
		outbox_refused_note(&r, id);
	}
	/* one line carries the first ids, the rest are counted */
	CHECK_EQ_INT(r.in_line, REFUSED_LINE_IDS);
	CHECK_EQ_INT(r.beyond_line, 4);
	CHECK(strstr(r.ids, "lab:1795341800.0 lab:1795341801.0") == r.ids);
	outbox_refused_flush(&r, 1000, 0);
	CHECK_EQ_INT(r.in_line, 0);
	outbox_refused_note(&r, "lab:1.0");
	outbox_refused_flush(&r, 1500, 0); /* not yet a second since the last line */
	CHECK_EQ_INT(r.in_line, 1);
	outbox_refused_flush(&r, 2000, 0);
	CHECK_EQ_INT(r.in_line, 0);
	CHECK_EQ_INT(r.total, REFUSED_LINE_IDS + 5);
	CHECK_EQ_INT(r.not_listed, 0);
	/* every id is in refused.ids, in order */
	FILE *f = fopen(r.path, "r");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		snprintf(id, sizeof(id), lines < REFUSED_LINE_IDS + 4 ? "lab:17953418%02d.0\n" : "lab:1.0\n", lines);
		const char *sp = strchr(line, ' ');
		in_order = in_order && sp && strcmp(sp + 1, id) == 0;
		lines++;
	}
	if (f)
		fclose(f);
	CHECK_EQ_INT(lines, REFUSED_LINE_IDS + 5);
	CHECK(in_order);
	remove(r.path);
	remove(dir);
}
