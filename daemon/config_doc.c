/* SPDX-License-Identifier: MIT */
/*
 * config_doc.c - duet-config-doc: the config key table as scdoc source, for
 * the man page duet.ini(5).
 *
 * The table in config.c is printed for --help by duet_config_print_keys();
 * this program reads exactly that text back and writes it as scdoc (one
 * subsection per config section, one entry per key with its default and
 * meaning), so the man page, --help and docs/configuration.md all come from
 * the same table. The text's layout is the contract:
 *
 *     [section]                       a section title (column 0)
 *         meaning of the section      4 spaces
 *       key     default: X            2 spaces; or "required"
 *           meaning of the key        6 spaces
 *
 * Anything else is an error (exit 1, with the line): a change of that
 * layout must fail the build, not yield a page with keys missing.
 *
 * usage: duet-config-doc [--keys]
 *   (no option)  the SECTIONS AND KEYS part of duet.ini(5), scdoc source
 *   --keys       every key as "[section] key", one per line (for the test
 *                that checks every key appears in the page)
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/config.h"

/* Writes s with scdoc's markup characters escaped. */
static void scd_text(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++) {
		if (s[i] == '\\' || s[i] == '*' || s[i] == '_')
			fputc('\\', out);
		fputc(s[i], out);
	}
}

static size_t indent_of(const char *line)
{
	size_t n = 0;
	while (line[n] == ' ')
		n++;
	return n;
}

int main(int argc, char **argv)
{
	bool keys_only = false;
	if (argc == 2 && strcmp(argv[1], "--keys") == 0) {
		keys_only = true;
	} else if (argc != 1) {
		fprintf(stderr, "usage: duet-config-doc [--keys]\n");
		return 2;
	}

	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (!mem) {
		perror("duet-config-doc: open_memstream");
		return 1;
	}
	duet_config_print_keys(mem);
	if (fclose(mem) != 0 || !text) {
		fprintf(stderr, "duet-config-doc: could not print the key table\n");
		free(text);
		return 1;
	}

	char section[128] = "";
	unsigned lineno = 0, n_keys = 0;
	bool want_meaning = false;
	int rc = 0;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		size_t ind = indent_of(line);
		const char *body = line + ind;
		if (*body == '\0')
			continue;
		if (ind == 0) { /* [section] */
			if (want_meaning || strlen(body) >= sizeof section || body[0] != '[') {
				rc = 1;
				break;
			}
			snprintf(section, sizeof section, "%s", body);
			if (!keys_only) {
				fputs("## ", stdout);
				scd_text(stdout, body, strlen(body));
				fputs("\n\n", stdout);
			}
		} else if (ind == 4 && !want_meaning && section[0]) { /* section meaning */
			if (!keys_only) {
				scd_text(stdout, body, strlen(body));
				fputs(".\n\n", stdout);
			}
		} else if (ind == 2 && !want_meaning && section[0]) { /* key + default */
			size_t klen = strcspn(body, " ");
			const char *def = body + klen;
			def += strspn(def, " ");
			if (klen == 0 || *def == '\0') {
				rc = 1;
				break;
			}
			n_keys++;
			if (keys_only) {
				printf("%s %.*s\n", section, (int)klen, body);
			} else {
				fputs("*", stdout);
				scd_text(stdout, body, klen);
				fputs("* (", stdout);
				scd_text(stdout, def, strlen(def));
				fputs(")\n", stdout);
			}
			want_meaning = true;
		} else if (ind == 6 && want_meaning) { /* key meaning */
			if (!keys_only) {
				fputs("\t", stdout);
				scd_text(stdout, body, strlen(body));
				fputs("\n\n", stdout);
			}
			want_meaning = false;
		} else {
			rc = 1;
			break;
		}
	}
	if (rc == 0 && (want_meaning || n_keys == 0))
		rc = 1;
	if (rc)
		fprintf(stderr,
			"duet-config-doc: line %u of the key table is not in the layout "
			"this generator reads (daemon/config_doc.c)\n",
			lineno);
	free(text);
	return rc;
}
