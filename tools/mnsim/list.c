// SPDX-License-Identifier: MIT
/*
 * list.c - mnsim list: the built-in scenarios and the protocol variants.
 */
#include "cli.h"

#include <string.h>

int cmd_list(struct cli *c, int argc, char **argv)
{
	unsigned int bit;
	size_t i;

	(void)argv;
	if (argc)
		return cli_usage_error(c, "list takes no arguments");
	fprintf(c->out, "Built-in scenarios (a guard: the step whose mutation the oracle must catch):\n");
	for (i = 0; i < mn_builtin_count(); i++) {
		const struct mn_builtin_info *b = mn_builtin_info(i);

		fprintf(c->out, "  %-34s guard %-28s %s\n", b->name, b->guard ? b->guard : "-",
			b->summary);
	}
	fprintf(c->out, "\nVariants (--variant, comma separated; upstream is none):\n");
	for (bit = 1; bit; bit <<= 1)
		if (mn_variant_name(bit))
			fprintf(c->out, "  %s\n", mn_variant_name(bit));
	fprintf(c->out, "\nScenario files: scenarios/*.mns in the source tree "
			"(docs/scenario-language.md).\n");
	return EXIT_CLEAN;
}
