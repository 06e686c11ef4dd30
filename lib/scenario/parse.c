// SPDX-License-Identifier: MIT
/*
 * parse.c - the scenario language (docs/scenario-language.md): a line lexer and a parser that
 * compiles every line into a precompiled operation (one public API call and the results it
 * accepts). Nothing here touches a world; errors name file, line and column.
 */
#include "scenario/scenario-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_TOKS  64
#define MAX_NAME  63
#define MAX_FILE  (1U << 20)
#define MAX_LABEL 72

#define W_NUM	"a number"
#define W_SIZE	"a size (4K, 0x1000, ...)"
#define W_GPA	"a guest physical address (a number)"
#define W_VALUE "a value (a number)"
#define W_OFF	"an offset (a number)"
#define W_LOC	"an address (NAME, NAME+OFF or a number)"
#define W_NAME	"a name ([a-z][a-z0-9_-]*)"

struct tok {
	const char *s;	  /* the content, NUL-terminated */
	unsigned int col; /* its first byte, 1-based */
	unsigned int end; /* the column after its last byte */
	bool str;	  /* a quoted string */
};

enum state { ST_HEADER = 0, ST_SETUP, ST_THREAD, ST_AFTER, ST_DONE };

enum header { H_TITLE = 0, H_SEED, H_ARCH, H_VARIANT, H_VM, H_THP, H_CHECKED, H_BOUND, NR_HDR };

static const char *const header_names[NR_HDR] = {
	"title", "seed", "arch", "variant", "vm", "thp", "checked", "bound",
};

struct pctx {
	struct mn_script *s;
	struct mn_script_error *err;
	unsigned int line;
	struct tok t[MAX_TOKS];
	unsigned int n;	  /* tokens on the line */
	unsigned int i;	  /* the next one */
	unsigned int eol; /* where a missing token is reported */
	char *buf;	  /* token storage of the line */
	enum state state;
	unsigned int header_line[NR_HDR];
	int thread;	/* the thread being filled, or -1 */
	bool in_thread; /* the line belongs to a thread or the after block */
	bool vm_placed; /* a setup line creates the VM */
};

struct name_bit {
	const char *name;
	uint64_t bit;
};

static const struct name_bit gmem_flags[] = {
	{ "mmap", MN_GUEST_MEMFD_FLAG_MMAP },
	{ "init-shared", MN_GUEST_MEMFD_FLAG_INIT_SHARED },
	{ "no-direct-map", MN_GUEST_MEMFD_FLAG_NO_DIRECT_MAP },
};

static const struct name_bit slot_flags[] = {
	{ "log-dirty", MN_MEM_LOG_DIRTY_PAGES },
	{ "readonly", MN_MEM_READONLY },
	{ "userfault", MN_MEM_USERFAULT },
};

static const char *const obj_kind_desc[] = {
	[SCN_MAP] = "a mapping (mmap)",	     [SCN_FILE] = "a file (file)",
	[SCN_GMEM] = "a guest_memfd (gmem)", [SCN_BITMAP] = "a bitmap (bitmap)",
	[SCN_GPC] = "a pfn cache (gpc)",
};

#define K_MAP	 (1U << SCN_MAP)
#define K_FILE	 (1U << SCN_FILE)
#define K_GMEM	 (1U << SCN_GMEM)
#define K_BITMAP (1U << SCN_BITMAP)
#define K_GPC	 (1U << SCN_GPC)

/* ---- errors ------------------------------------------------------------------------------ */

static int __attribute__((format(printf, 3, 4)))
perr(struct pctx *p, unsigned int col, const char *fmt, ...)
{
	va_list ap;

	if (p->err) {
		p->err->line = p->line;
		p->err->col = col;
		va_start(ap, fmt);
		vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* @t quoted for a message ("'foo'", "\"text\"" or "end of line"), in @buf. */
static const char *quote(const struct tok *t, char *buf, size_t len)
{
	size_t o = 0, i;
	char q;

	if (!t) {
		snprintf(buf, len, "end of line");
		return buf;
	}
	q = t->str ? '"' : '\'';
	buf[o++] = q;
	for (i = 0; t->s[i] && o + 8 < len; i++) {
		unsigned char c = (unsigned char)t->s[i];

		if (i == 32) {
			o += (size_t)snprintf(buf + o, len - o, "...");
			break;
		}
		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o++] = q;
	buf[o] = '\0';
	return buf;
}

/* ---- the lexer --------------------------------------------------------------------------- */

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool ctrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Split line @l (@len bytes, no newline) into tokens; p->buf holds at least 2 * @len + 2. */
static int lex(struct pctx *p, const char *l, size_t len)
{
	char *o = p->buf;
	size_t i = 0;

	p->n = 0;
	p->i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)l[i];
		struct tok *t;

		if (blank((char)c)) {
			i++;
			continue;
		}
		if (c == '#')
			break;
		if (p->n == MAX_TOKS)
			return perr(p, (unsigned int)i + 1,
				    "too many words on one line (at most %d)", MAX_TOKS);
		t = &p->t[p->n];
		t->col = (unsigned int)i + 1;
		t->s = o;
		t->str = false;
		if (c == '"') {
			t->str = true;
			for (i++;; i++) {
				if (i >= len)
					return perr(p, t->col,
						    "unterminated string: expected a closing '\"'");
				c = (unsigned char)l[i];
				if (c == '"')
					break;
				if (c == '\\' && i + 1 < len &&
				    (l[i + 1] == '"' || l[i + 1] == '\\'))
					c = (unsigned char)l[++i];
				else if (ctrl(c) && c != '\t')
					return perr(
						p, (unsigned int)i + 1,
						"unexpected control character 0x%02x in a string",
						c);
				*o++ = (char)c;
			}
			i++;
		} else if (c == '|') {
			*o++ = '|';
			i++;
		} else if (c == '-' && i + 1 < len && l[i + 1] == '>') {
			*o++ = '-';
			*o++ = '>';
			i += 2;
		} else {
			for (; i < len; i++) {
				c = (unsigned char)l[i];
				if (blank((char)c) || c == '#' || c == '|' || c == '"' ||
				    (c == '-' && i + 1 < len && l[i + 1] == '>'))
					break;
				if (ctrl(c))
					return perr(p, (unsigned int)i + 1,
						    "unexpected control character 0x%02x", c);
				*o++ = (char)c;
			}
		}
		*o++ = '\0';
		t->end = (unsigned int)i + 1;
		p->n++;
	}
	p->eol = p->n ? p->t[p->n - 1].end : 1;
	return 0;
}

/* ---- token helpers ----------------------------------------------------------------------- */

static const struct tok *peek(const struct pctx *p)
{
	return p->i < p->n ? &p->t[p->i] : NULL;
}

static const struct tok *next(struct pctx *p)
{
	return p->i < p->n ? &p->t[p->i++] : NULL;
}

static bool is(const struct tok *t, const char *w)
{
	return t && !t->str && !strcmp(t->s, w);
}

/* No argument left: the end of the line or the result list. */
static bool at_end(const struct pctx *p)
{
	const struct tok *t = peek(p);

	return !t || is(t, "->") || is(t, "stop-on");
}

static unsigned int col_of(const struct pctx *p, const struct tok *t)
{
	return t ? t->col : p->eol;
}

/* The token before the next one, for "after 'x'" in messages. */
static const char *prev(const struct pctx *p)
{
	return p->i ? p->t[p->i - 1].s : "";
}

static int expected(struct pctx *p, const struct tok *t, const char *what, const char *after)
{
	char q[96];

	return perr(p, col_of(p, t), "expected %s after '%s', got %s", what, after,
		    quote(t, q, sizeof(q)));
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident(const char *s)
{
	size_t i;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '_' || s[i] == '-'))
			return false;
	return i <= MAX_NAME;
}

static int hexval(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decimal with an optional K, M or G suffix, or 0x hex: 0, -EINVAL, or -ERANGE. */
static int parse_num(const char *s, uint64_t *out)
{
	uint64_t v = 0, mul = 1;
	int d;

	if (s[0] == '0' && s[1] == 'x') {
		if (!s[2])
			return -EINVAL;
		for (s += 2; *s; s++) {
			d = hexval(*s);
			if (d < 0)
				return -EINVAL;
			if (v >> 60)
				return -ERANGE;
			v = v * 16 + (uint64_t)d;
		}
		*out = v;
		return 0;
	}
	if (!is_digit(*s))
		return -EINVAL;
	for (; is_digit(*s); s++) {
		d = *s - '0';
		if (v > (UINT64_MAX - (uint64_t)d) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)d;
	}
	if (*s == 'K')
		mul = 1ULL << 10;
	else if (*s == 'M')
		mul = 1ULL << 20;
	else if (*s == 'G')
		mul = 1ULL << 30;
	if (mul > 1)
		s++;
	if (*s)
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

static int want_num(struct pctx *p, const char *what, uint64_t *v)
{
	const char *after = prev(p);
	const struct tok *t = next(p);
	int r;

	if (t && !t->str) {
		r = parse_num(t->s, v);
		if (!r)
			return 0;
		if (r == -ERANGE)
			return perr(p, t->col, "number '%s' after '%s' does not fit in 64 bits",
				    t->s, after);
	}
	return expected(p, t, what, after);
}

/* A number no larger than @max. */
static int want_small(struct pctx *p, const char *what, uint64_t max, unsigned int *v)
{
	const char *after = prev(p);
	uint64_t x;
	int r = want_num(p, what, &x);

	if (r)
		return r;
	if (x > max)
		return perr(p, p->t[p->i - 1].col, "'%s' takes at most %llu, got %s", after,
			    (unsigned long long)max, p->t[p->i - 1].s);
	*v = (unsigned int)x;
	return 0;
}

static int want_word(struct pctx *p, const char *const *words, int *idx);

/* The next option of a line: one of @opts, each at most once (@seen, a bit per option). */
static int want_option(struct pctx *p, const char *const *opts, unsigned int *seen, int *k)
{
	const struct tok *t = peek(p);
	int r = want_word(p, opts, k);

	if (r)
		return r;
	if (*seen & (1U << *k))
		return perr(p, t->col, "'%s' given twice on this line", opts[*k]);
	*seen |= 1U << *k;
	return 0;
}

/* One of @words (NULL-terminated): its index. */
static int want_word(struct pctx *p, const char *const *words, int *idx)
{
	const char *after = prev(p);
	const struct tok *t = next(p);
	char what[256];
	size_t o = 0, n, i;

	for (n = 0; words[n]; n++)
		if (is(t, words[n])) {
			*idx = (int)n;
			return 0;
		}
	for (i = 0; i < n && o < sizeof(what); i++)
		o += (size_t)snprintf(what + o, sizeof(what) - o, "%s'%s'",
				      !i	   ? (n > 2 ? "one of " : "")
				      : i + 1 == n ? (n > 2 ? ", or " : " or ")
						   : ", ",
				      words[i]);
	return expected(p, t, what, after);
}

static int want_name(struct pctx *p, const struct tok **out)
{
	const char *after = prev(p);
	const struct tok *t = next(p);

	if (!t || t->str || !is_ident(t->s))
		return expected(p, t, W_NAME, after);
	*out = t;
	return 0;
}

static int find_obj(const struct mn_script *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->nr_obj; i++)
		if (!strcmp(s->obj[i].name, name))
			return (int)i;
	return -1;
}

/* A defined object whose kind is in @kinds. */
static int want_obj(struct pctx *p, unsigned int kinds, const char *what, int *out)
{
	const char *after = prev(p);
	const struct tok *t = next(p);
	int o;

	if (!t || t->str || !is_ident(t->s))
		return expected(p, t, what, after);
	o = find_obj(p->s, t->s);
	if (o < 0)
		return perr(p, t->col, "'%s' is not defined (define it before this line)", t->s);
	if (!(kinds & (1U << p->s->obj[o].kind)))
		return perr(p, t->col, "'%s' is %s, expected %s", t->s,
			    obj_kind_desc[p->s->obj[o].kind], what);
	*out = o;
	return 0;
}

/* LOC: a number, or NAME[+OFF] with NAME a mapping. */
static int want_loc(struct pctx *p, struct scn_loc *loc)
{
	const char *after = prev(p);
	const struct tok *t = next(p);
	char name[MAX_NAME + 2];
	const char *plus;
	size_t n;
	int o, r;

	if (!t || t->str)
		return expected(p, t, W_LOC, after);
	if (is_digit(t->s[0])) {
		r = parse_num(t->s, &loc->off);
		if (r)
			return r == -ERANGE ? perr(p, t->col,
						   "number '%s' after '%s' does not fit in 64 bits",
						   t->s, after)
					    : expected(p, t, W_LOC, after);
		loc->obj = -1;
		return 0;
	}
	plus = strchr(t->s, '+');
	n = plus ? (size_t)(plus - t->s) : strlen(t->s);
	if (n > MAX_NAME)
		return expected(p, t, W_LOC, after);
	memcpy(name, t->s, n);
	name[n] = '\0';
	if (!is_ident(name))
		return expected(p, t, W_LOC, after);
	o = find_obj(p->s, name);
	if (o < 0)
		return perr(p, t->col, "'%s' is not defined (define it before this line)", name);
	if (p->s->obj[o].kind != SCN_MAP)
		return perr(p, t->col, "'%s' is %s, expected a mapping (mmap)", name,
			    obj_kind_desc[p->s->obj[o].kind]);
	loc->obj = o;
	loc->off = 0;
	if (plus && parse_num(plus + 1, &loc->off))
		return perr(p, t->col + (unsigned int)n + 1,
			    "expected an offset (a number) after '+', got '%s'", plus + 1);
	return 0;
}

/* A comma list of @names (or "none" when @none): the OR of their bits. */
static int want_list(struct pctx *p, const struct name_bit *names, size_t nr, const char *what,
		     bool none, uint64_t *out)
{
	const char *after = prev(p);
	const struct tok *t = next(p);
	char list[160], item[96];
	const char *c, *e;
	size_t i, o = 0, n;
	uint64_t v = 0;

	for (i = 0; i < nr && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
				      names[i].name);
	if (!t || t->str || is(t, "->")) {
		snprintf(item, sizeof(item), "a %s", what);
		return expected(p, t, item, after);
	}
	if (none && !strcmp(t->s, "none")) {
		*out = 0;
		return 0;
	}
	for (c = t->s;; c = e + 1) {
		e = strchr(c, ',');
		n = e ? (size_t)(e - c) : strlen(c);
		if (!n)
			return perr(p, t->col + (unsigned int)(c - t->s), "expected a %s (%s) %s",
				    what, list, c == t->s ? "before ','" : "after ','");
		for (i = 0; i < nr; i++)
			if (strlen(names[i].name) == n && !strncmp(names[i].name, c, n))
				break;
		if (i == nr) {
			snprintf(item, sizeof(item), "%.*s", (int)MN_MIN(n, (size_t)MAX_NAME), c);
			return perr(p, t->col + (unsigned int)(c - t->s),
				    "unknown %s '%s' (expected %s%s)", what, item, list,
				    none ? ", or none" : "");
		}
		v |= names[i].bit;
		if (!e)
			break;
	}
	*out = v;
	return 0;
}

/* Nothing but "-> ..." or "stop-on ..." may follow the arguments. */
static int end_args(struct pctx *p)
{
	const struct tok *t = peek(p);
	char q[96];

	if (!at_end(p))
		return perr(p, t->col, "expected '->', 'stop-on' or the end of the line, got %s",
			    quote(t, q, sizeof(q)));
	return 0;
}

/* Nothing at all may follow. */
static int end_line(struct pctx *p)
{
	const struct tok *t = peek(p);
	char q[96];

	if (t)
		return perr(p, t->col, "expected the end of the line, got %s",
			    quote(t, q, sizeof(q)));
	return 0;
}

/* ---- building the script ----------------------------------------------------------------- */

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

static struct scn_op *seq_add(struct scn_seq *q)
{
	struct scn_op *op;

	if (q->nr == q->cap) {
		unsigned int cap = q->cap ? q->cap * 2 : 8;
		struct scn_op *n = realloc(q->ops, cap * sizeof(*n));

		if (!n)
			return NULL;
		q->ops = n;
		q->cap = cap;
	}
	op = &q->ops[q->nr++];
	memset(op, 0, sizeof(*op));
	op->obj = op->obj2 = op->bitmap = op->loc.obj = -1;
	return op;
}

/* Define object @t of @kind: its index, or a negative errno. */
static int define(struct pctx *p, const struct tok *t, enum scn_obj_kind kind)
{
	struct mn_script *s = p->s;
	struct scn_obj *o;
	int prev_def = find_obj(s, t->s);

	if (prev_def >= 0)
		return perr(p, t->col, "'%s' is already defined at line %u", t->s,
			    s->obj[prev_def].line);
	if (s->nr_obj == SCN_MAX_OBJS)
		return perr(p, t->col, "too many objects (at most %d)", SCN_MAX_OBJS);
	o = &s->obj[s->nr_obj];
	memset(o, 0, sizeof(*o));
	o->name = dup_str(t->s);
	if (!o->name)
		return -ENOMEM;
	o->kind = kind;
	o->line = p->line;
	return (int)s->nr_obj++;
}

/* The line's words up to "->", for reports (cut at MAX_LABEL bytes). */
static char *make_label(const struct pctx *p)
{
	char buf[MAX_LABEL + 8];
	size_t o = 0, n;
	unsigned int i;

	for (i = 0; i < p->n && !is(&p->t[i], "->") && o <= MAX_LABEL; i++) {
		if (i)
			buf[o++] = ' ';
		n = MN_MIN(strlen(p->t[i].s), MAX_LABEL + 1 - o);
		memcpy(buf + o, p->t[i].s, n);
		o += n;
	}
	if (o > MAX_LABEL) {
		o = MAX_LABEL;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return dup_str(buf);
}

/* One result list (after "->" or "stop-on"): into @x, its text into @want. */
static int parse_result_list(struct pctx *p, struct scn_expect *x, char *want, size_t len,
			     bool values, bool exits)
{
	static const char *const exit_words[] = { "mmio", "memory-fault", "userfault", "gave-up",
						  NULL };
	static const unsigned int exit_bits[] = { SCN_EXIT_MMIO, SCN_EXIT_MEMORY_FAULT,
						  SCN_EXIT_USERFAULT, SCN_EXIT_GAVE_UP };
	size_t o = 0;
	char q[96];
	const struct tok *t;
	int r, k;

	memset(x, 0, sizeof(*x));
	want[0] = '\0';
	for (;;) {
		const char *after = prev(p);
		const char *item;
		char num[32];

		t = next(p);
		if (!t || t->str ||
		    !(is(t, "ok") || is(t, "any") || is(t, "exit") || t->s[0] == 'E' ||
		      is_digit(t->s[0])))
			return perr(p, col_of(p, t),
				    "expected a result (ok, any, an errno name such as EFAULT%s%s) "
				    "after '%s', got %s",
				    values ? ", a value" : "", exits ? ", exit KIND" : "", after,
				    quote(t, q, sizeof(q)));
		item = t->s;
		if (is(t, "ok")) {
			x->ok = true;
		} else if (is(t, "any")) {
			x->any = true;
		} else if (is(t, "exit")) {
			if (!exits)
				return perr(p, t->col,
					    "'exit' results are for guest accesses only");
			r = want_word(p, exit_words, &k);
			if (r)
				return r;
			x->exits |= exit_bits[k];
			snprintf(num, sizeof(num), "exit %s", exit_words[k]);
			item = num;
		} else if (t->s[0] == 'E') {
			int e = scn_errno_lookup(t->s);

			if (!e)
				return perr(
					p, t->col,
					"unknown errno name %s (expected one of EFAULT, EINVAL, "
					"EAGAIN, EEXIST, EBADF, ENOMEM, EBUSY, ENODEV, ...)",
					quote(t, q, sizeof(q)));
			x->errs[e / 64] |= 1ULL << (e % 64);
		} else {
			uint64_t v;

			if (!values)
				return perr(p, t->col,
					    "a value result needs a read (guest read, guest exec, "
					    "host read, gpc read, dirty-log get, spte)");
			r = parse_num(t->s, &v);
			if (r)
				return r == -ERANGE
					       ? perr(p, t->col,
						      "number '%s' does not fit in 64 bits", t->s)
					       : expected(p, t, "a result value (a number)", after);
			if (x->nr_vals == SCN_MAX_VALS)
				return perr(p, t->col, "too many values (at most %d)",
					    SCN_MAX_VALS);
			x->vals[x->nr_vals++] = v;
		}
		if (o < len)
			o += (size_t)snprintf(want + o, len - o, "%s%s", o ? "|" : "", item);
		t = peek(p);
		if (!t || is(t, "stop-on"))
			return 0;
		if (!is(t, "|"))
			return perr(p, t->col,
				    "expected '|', 'stop-on' or the end of the line after '%s', "
				    "got %s",
				    item, quote(t, q, sizeof(q)));
		next(p);
	}
}

/*
 * "[-> RESULT|RESULT...] [stop-on RESULT|RESULT...]"; without "->" only success is
 * accepted. @stop: the line is in a thread or the after block, where stop-on may end it.
 */
static int parse_results(struct pctx *p, struct scn_op *op, bool values, bool exits)
{
	char want[160], stop[96], text[300];
	const struct tok *t;
	int r;

	r = end_args(p);
	if (r)
		return r;
	memset(&op->expect, 0, sizeof(op->expect));
	if (is(peek(p), "->")) {
		next(p);
		r = parse_result_list(p, &op->expect, want, sizeof(want), values, exits);
		if (r)
			return r;
	} else {
		op->expect.ok = true;
		snprintf(want, sizeof(want), "ok");
	}
	t = peek(p);
	if (is(t, "stop-on")) {
		if (!p->in_thread)
			return perr(
				p, t->col,
				"'stop-on' ends a thread: it is for thread and after lines only");
		next(p);
		r = parse_result_list(p, &op->stop, stop, sizeof(stop), values, exits);
		if (r)
			return r;
		op->has_stop = true;
		snprintf(text, sizeof(text), "%s (or %s, which stops)", want, stop);
	} else {
		snprintf(text, sizeof(text), "%s", want);
	}
	r = end_line(p);
	if (r)
		return r;
	op->want = dup_str(text);
	return op->want ? 0 : -ENOMEM;
}

/* ---- header lines ------------------------------------------------------------------------ */

static int parse_variant_list(struct pctx *p, unsigned int *out)
{
	const char *after = prev(p);
	const struct tok *t = next(p);
	const unsigned int walkers = MN_VARIANT_RFC_SKIP_GMEM_ONLY |
				     MN_VARIANT_FILTER_USERSPACE_MAPPINGS | MN_VARIANT_GPC_OWN_SEQ;
	char item[MAX_NAME + 2];
	const char *c, *e;
	unsigned int v = 0, bit;
	size_t n;

	if (!t || t->str)
		return expected(p, t, "a variant name", after);
	for (c = t->s;; c = e + 1) {
		e = strchr(c, ',');
		n = e ? (size_t)(e - c) : strlen(c);
		snprintf(item, sizeof(item), "%.*s", (int)MN_MIN(n, (size_t)MAX_NAME), c);
		if (!n)
			return perr(p, t->col + (unsigned int)(c - t->s),
				    "expected a variant name %s",
				    c == t->s ? "before ','" : "after ','");
		if (n > MAX_NAME || scn_variant_lookup(item, &bit))
			return perr(p, t->col + (unsigned int)(c - t->s),
				    "unknown variant '%s' (expected %s)", item, scn_variant_list);
		v |= bit;
		if ((v & walkers) & ((v & walkers) - 1))
			return perr(
				p, t->col + (unsigned int)(c - t->s),
				"variant '%s': rfc-skip-gmem-only, filter-userspace-mappings and "
				"gpc-own-seq exclude each other",
				item);
		if (!e)
			break;
	}
	*out = v;
	return 0;
}

static int parse_vm(struct pctx *p)
{
	static const char *const opts[] = { "type",	"vcpus",     "ept-levels",
					    "ipa-bits", "dirty-log", NULL };
	static const char *const types[] = { "default", "sw-protected", "snp", "tdx", NULL };
	static const char *const levels[] = { "4", "5", NULL };
	static const char *const logs[] = { "off", "manual", "manual-init-set", NULL };
	static const unsigned int log_bits[] = { 0, MN_DIRTY_LOG_MANUAL_PROTECT,
						 MN_DIRTY_LOG_MANUAL_PROTECT |
							 MN_DIRTY_LOG_INITIALLY_SET };
	struct mn_vm_config *c = &p->s->vm_cfg;
	unsigned int seen = 0;
	int r, k, w;

	while (!at_end(p)) {
		r = want_option(p, opts, &seen, &k);
		if (r)
			return r;
		switch (k) {
		case 0:
			r = want_word(p, types, &w);
			c->type = (enum mn_vm_type)w;
			break;
		case 1:
			r = want_small(p, W_NUM, MN_VM_MAX_VCPUS, &c->nr_vcpus);
			if (!r && !c->nr_vcpus)
				r = perr(p, p->t[p->i - 1].col, "'vcpus' takes 1 to %d, got 0",
					 MN_VM_MAX_VCPUS);
			break;
		case 2:
			r = want_word(p, levels, &w);
			c->ept_levels = 4 + (unsigned int)w;
			break;
		case 3:
			r = want_small(p, W_NUM, 64, &c->ipa_bits);
			break;
		default:
			r = want_word(p, logs, &w);
			c->dirty_log_manual = log_bits[w];
			break;
		}
		if (r)
			return r;
	}
	if (!seen)
		return expected(p, NULL, "'type', 'vcpus', 'ept-levels', 'ipa-bits' or 'dirty-log'",
				"vm");
	return end_line(p);
}

static int parse_header(struct pctx *p, enum header h)
{
	static const char *const archs[] = { "x86", "arm64", NULL };
	static const char *const thps[] = { "never", "always", "madvise", NULL };
	static const char *const onoff[] = { "on", "off", NULL };
	struct mn_script *s = p->s;
	const struct tok *t;
	uint64_t v;
	int r = 0, k;

	switch (h) {
	case H_TITLE:
		t = next(p);
		if (!t || !t->str)
			return expected(p, t, "a string in double quotes", "title");
		s->title = dup_str(t->s);
		if (!s->title)
			return -ENOMEM;
		s->info.title = s->title;
		break;
	case H_SEED:
		t = next(p);
		if (!t)
			return expected(p, t, "a file name", "seed");
		s->seed = dup_str(t->s);
		if (!s->seed)
			return -ENOMEM;
		s->info.seed = s->seed;
		break;
	case H_ARCH:
		r = want_word(p, archs, &k);
		s->info.arch = k ? MN_VM_ARM64 : MN_VM_X86;
		break;
	case H_VARIANT:
		r = parse_variant_list(p, &s->info.variant);
		break;
	case H_VM:
		return parse_vm(p);
	case H_THP:
		r = want_word(p, thps, &k);
		s->thp = k == 0 ? MN_THP_NEVER : k == 1 ? MN_THP_ALWAYS : MN_THP_MADVISE;
		break;
	case H_CHECKED:
		r = want_word(p, onoff, &k);
		s->info.checked = !k;
		break;
	default:
		r = want_num(p, W_NUM, &v);
		if (!r && v > 1000)
			r = perr(p, p->t[p->i - 1].col, "'bound' takes at most 1000, got %s",
				 p->t[p->i - 1].s);
		s->info.bound = (unsigned int)v;
		break;
	}
	return r ? r : end_line(p);
}

/* ---- definitions ------------------------------------------------------------------------- */

static int parse_mmap(struct pctx *p, struct scn_op *op)
{
	static const char *const opts[] = { "anon",    "shared",   "file", "offset",
					    "hugetlb", "populate", NULL };
	static const char *const prots[] = { "none", "r", "rw", "rx", "rwx", NULL };
	static const unsigned int prot_bits[] = { MN_PROT_NONE, MN_PROT_READ,
						  MN_PROT_READ | MN_PROT_WRITE,
						  MN_PROT_READ | MN_PROT_EXEC,
						  MN_PROT_READ | MN_PROT_WRITE | MN_PROT_EXEC };
	static const char *const huge[] = { "2M", "1G", NULL };
	unsigned int seen = 0, offset_col = 0;
	const struct tok *name;
	int r, k, o;

	r = want_name(p, &name);
	if (!r)
		r = want_num(p, W_SIZE, &op->size);
	if (!r)
		r = want_word(p, prots, &k);
	if (r)
		return r;
	op->arg = prot_bits[k];
	op->flags = MN_MAP_PRIVATE | MN_MAP_ANONYMOUS;
	while (!at_end(p)) {
		const struct tok *t = peek(p);

		r = want_word(p, opts, &k);
		if (r)
			return r;
		/* anon, shared and file are one choice */
		if ((k <= 2 && (seen & 7)) || (seen & (1U << k)))
			return perr(p, t->col, "'%s' given twice on this line%s", t->s,
				    k <= 2 ? " (anon, shared and file are one choice)" : "");
		seen |= 1U << k;
		switch (k) {
		case 0:
			break;
		case 1:
			op->flags = MN_MAP_SHARED | MN_MAP_ANONYMOUS;
			break;
		case 2:
			r = want_obj(p, K_FILE | K_GMEM, "a file or guest_memfd name", &op->obj2);
			op->flags = MN_MAP_SHARED;
			break;
		case 3:
			offset_col = t->col;
			r = want_num(p, W_OFF, &op->off2);
			break;
		case 4:
			r = want_word(p, huge, &k);
			op->flags |= MN_MAP_HUGETLB | (k ? MN_MAP_HUGE_1GB : MN_MAP_HUGE_2MB);
			break;
		default:
			op->flags |= MN_MAP_POPULATE;
			break;
		}
		if (r)
			return r;
	}
	if ((seen & (1U << 3)) && !(seen & (1U << 2)))
		return perr(p, offset_col, "'offset' needs 'file OBJ'");
	o = define(p, name, SCN_MAP);
	if (o < 0)
		return o;
	op->obj = o;
	p->s->obj[o].size = op->size;
	return parse_results(p, op, false, false);
}

static int parse_file(struct pctx *p, struct scn_op *op, bool gmem)
{
	static const char *const file_opts[] = { "size", "huge", NULL };
	static const char *const gmem_opts[] = { "size", "flags", "huge", NULL };
	static const char *const huge[] = { "2M", "1G", NULL };
	unsigned int seen = 0;
	const struct tok *name;
	uint64_t v;
	int r, k, o;

	r = want_name(p, &name);
	if (r)
		return r;
	while (!at_end(p)) {
		const struct tok *t = peek(p);

		r = want_word(p, gmem ? gmem_opts : file_opts, &k);
		if (r)
			return r;
		if (!gmem && k == 1)
			k = 2;
		if (seen & (1U << k))
			return perr(p, t->col, "'%s' given twice on this line", t->s);
		seen |= 1U << k;
		if (k == 0) {
			r = want_num(p, W_SIZE, &op->size);
		} else if (k == 1) {
			v = 0;
			r = want_list(p, gmem_flags, ARRAY_SIZE(gmem_flags), "guest_memfd flag",
				      false, &v);
			op->value = v;
		} else if (gmem) {
			op->arg = MN_ORDER_2M;
		} else {
			r = want_word(p, huge, &k);
			op->arg = k ? MN_ORDER_1G : MN_ORDER_2M;
		}
		if (r)
			return r;
	}
	if (!(seen & 1))
		return expected(p, peek(p), "'size SIZE'", prev(p));
	o = define(p, name, gmem ? SCN_GMEM : SCN_FILE);
	if (o < 0)
		return o;
	op->obj = o;
	p->s->obj[o].size = op->size;
	return parse_results(p, op, false, false);
}

static int parse_bitmap(struct pctx *p)
{
	uint64_t words[SCN_MAX_BITMAP_WORDS];
	const struct tok *name;
	struct scn_obj *obj;
	unsigned int n = 0;
	int r, o;

	r = want_name(p, &name);
	if (r)
		return r;
	do {
		if (n == SCN_MAX_BITMAP_WORDS)
			return perr(p, col_of(p, peek(p)), "too many words (at most %d)",
				    SCN_MAX_BITMAP_WORDS);
		r = want_num(p, "a bitmap word (a number)", &words[n++]);
		if (r)
			return r;
	} while (peek(p));
	o = define(p, name, SCN_BITMAP);
	if (o < 0)
		return o;
	obj = &p->s->obj[o];
	obj->size = n;
	obj->init = calloc(n, sizeof(uint64_t));
	p->s->bits[o] = calloc(n, sizeof(uint64_t));
	if (!obj->init || !p->s->bits[o])
		return -ENOMEM;
	memcpy(obj->init, words, n * sizeof(uint64_t));
	return 0;
}

/* ---- operations -------------------------------------------------------------------------- */

/* "as N" when it comes next. */
static int opt_as(struct pctx *p, unsigned int *as_id)
{
	if (!is(peek(p), "as"))
		return 0;
	next(p);
	return want_small(p, W_NUM, 0xffff, as_id);
}

static int parse_guest(struct pctx *p, struct scn_op *op)
{
	static const char *const verbs[] = { "read", "exec", "write", NULL };
	static const unsigned int perms[] = { MN_PTE_R, MN_PTE_X, MN_PTE_W };
	unsigned int nr_vcpus = p->s->vm_cfg.nr_vcpus ? p->s->vm_cfg.nr_vcpus : 1;
	bool seen_vcpu = false, seen_as = false;
	int r, k;

	for (;;) {
		const struct tok *t = peek(p);

		if (is(t, "vcpu") && !seen_vcpu) {
			seen_vcpu = true;
			next(p);
			r = want_small(p, W_NUM, MN_VM_MAX_VCPUS, &op->vcpu);
			if (r)
				return r;
			if (op->vcpu >= nr_vcpus)
				return perr(
					p, p->t[p->i - 1].col,
					"vcpu %u does not exist: the VM has %u (see 'vm vcpus N')",
					op->vcpu, nr_vcpus);
		} else if (is(t, "as") && !seen_as) {
			seen_as = true;
			r = opt_as(p, &op->as_id);
			if (r)
				return r;
		} else {
			break;
		}
	}
	r = want_word(p, verbs, &k);
	if (!r)
		r = want_num(p, W_GPA, &op->addr);
	if (!r && k == 2)
		r = want_num(p, W_VALUE, &op->value);
	if (r)
		return r;
	op->arg = perms[k];
	return parse_results(p, op, k != 2, true);
}

static int parse_host(struct pctx *p, struct scn_op *op)
{
	static const char *const verbs[] = { "read", "write", NULL };
	int r, k;

	r = want_word(p, verbs, &k);
	if (!r)
		r = want_loc(p, &op->loc);
	if (!r && k)
		r = want_num(p, W_VALUE, &op->value);
	if (r)
		return r;
	op->arg = k ? MN_PTE_W : MN_PTE_R;
	return parse_results(p, op, !k, false);
}

/* LOC SIZE, then the operation's own word. */
static int parse_range_op(struct pctx *p, struct scn_op *op)
{
	static const char *const prots[] = { "none", "r", "rw", "rx", "rwx", NULL };
	static const unsigned int prot_bits[] = { MN_PROT_NONE, MN_PROT_READ,
						  MN_PROT_READ | MN_PROT_WRITE,
						  MN_PROT_READ | MN_PROT_EXEC,
						  MN_PROT_READ | MN_PROT_WRITE | MN_PROT_EXEC };
	static const char *const advice[] = { "dontneed", "hugepage", "nohugepage", "collapse",
					      NULL };
	static const int advice_val[] = { MN_MADV_DONTNEED, MN_MADV_HUGEPAGE, MN_MADV_NOHUGEPAGE,
					  MN_MADV_COLLAPSE };
	static const char *const modes[] = { "clear", "clear-flush", "test", NULL };
	static const unsigned int mode_val[] = { MN_AGE_CLEAR_YOUNG, MN_AGE_CLEAR_FLUSH_YOUNG,
						 MN_AGE_TEST_YOUNG };
	int r, k = 0;

	r = want_loc(p, &op->loc);
	if (!r && op->kind != SCN_OP_MIGRATE)
		r = want_num(p, W_SIZE, &op->size);
	if (r)
		return r;
	switch (op->kind) {
	case SCN_OP_MPROTECT:
		r = want_word(p, prots, &k);
		op->arg = prot_bits[k];
		break;
	case SCN_OP_MADVISE:
		r = want_word(p, advice, &k);
		op->arg = (unsigned int)advice_val[k];
		break;
	case SCN_OP_AGE:
		r = want_word(p, modes, &k);
		op->arg = mode_val[k];
		break;
	default:
		break;
	}
	return r ? r : parse_results(p, op, false, false);
}

static int parse_remap(struct pctx *p, struct scn_op *op)
{
	const struct tok *t = peek(p);
	int r = want_loc(p, &op->loc);

	if (r)
		return r;
	if (!at_end(p)) {
		r = want_num(p, W_SIZE, &op->size);
		return r ? r : parse_results(p, op, false, false);
	}
	if (op->loc.obj < 0 || strchr(t->s, '+'))
		return expected(p, peek(p), "a size (remap of an address needs one)", prev(p));
	op->size = p->s->obj[op->loc.obj].size;
	return parse_results(p, op, false, false);
}

static void note_slot_size(struct pctx *p, uint64_t size)
{
	uint64_t pages = size / MN_PAGE_SIZE + !!(size % MN_PAGE_SIZE);

	if (pages > p->s->max_slot_pages)
		p->s->max_slot_pages = pages;
}

static int parse_memslot(struct pctx *p, struct scn_op *op)
{
	static const char *const opts[] = { "as",     "gpa",   "size",	 "hva", "gmem",
					    "offset", "flags", "bitmap", NULL };
	const struct tok *first = peek(p);
	unsigned int seen = 0, id, as_id = 0, offset_col = 0;
	uint64_t v;
	int r, k;

	if (is(first, "delete") || is(first, "move") || is(first, "flags")) {
		next(p);
		op->kind = is(first, "delete") ? SCN_OP_MEMSLOT_DELETE
			   : is(first, "move") ? SCN_OP_MEMSLOT_MOVE
					       : SCN_OP_MEMSLOT_FLAGS;
		r = want_small(p, "a memslot id (a number)", 0xffff, &id);
		if (r)
			return r;
		if (op->kind == SCN_OP_MEMSLOT_MOVE) {
			if (!is(peek(p), "gpa"))
				return expected(p, peek(p), "'gpa'", prev(p));
			next(p);
			r = want_num(p, W_GPA, &op->addr);
		} else if (op->kind == SCN_OP_MEMSLOT_FLAGS) {
			r = want_list(p, slot_flags, ARRAY_SIZE(slot_flags), "memslot flag", true,
				      &v);
			op->flags = (unsigned int)v;
		}
		if (r)
			return r;
		while (!at_end(p)) {
			const struct tok *t = peek(p);

			if (is(t, "as") && !(seen & 1)) {
				seen |= 1;
				r = opt_as(p, &as_id);
			} else if (is(t, "bitmap") && op->kind == SCN_OP_MEMSLOT_FLAGS &&
				   !(seen & 2)) {
				seen |= 2;
				next(p);
				r = want_obj(p, K_BITMAP, "a bitmap name", &op->bitmap);
			} else {
				return end_args(p);
			}
			if (r)
				return r;
		}
		op->slot = as_id << 16 | id;
		return parse_results(p, op, false, false);
	}
	r = want_small(p, "a memslot id (a number) or 'delete', 'move', 'flags'", 0xffff, &id);
	if (r)
		return r;
	while (!at_end(p)) {
		const struct tok *t = peek(p); /* the option word, for offset_col */

		r = want_option(p, opts, &seen, &k);
		if (r)
			return r;
		switch (k) {
		case 0:
			r = want_small(p, W_NUM, 0xffff, &as_id);
			break;
		case 1:
			r = want_num(p, W_GPA, &op->addr);
			break;
		case 2:
			r = want_num(p, W_SIZE, &op->size);
			break;
		case 3:
			r = want_loc(p, &op->loc);
			break;
		case 4:
			r = want_obj(p, K_GMEM, "a guest_memfd name", &op->obj2);
			break;
		case 5:
			offset_col = t->col;
			r = want_num(p, W_OFF, &op->off2);
			break;
		case 6:
			r = want_list(p, slot_flags, ARRAY_SIZE(slot_flags), "memslot flag", true,
				      &v);
			op->flags = (unsigned int)v;
			break;
		default:
			r = want_obj(p, K_BITMAP, "a bitmap name", &op->bitmap);
			break;
		}
		if (r)
			return r;
	}
	for (k = 1; k <= 3; k++)
		if (!(seen & (1U << k)))
			return perr(p, col_of(p, peek(p)),
				    "memslot: missing '%s %s' (a memslot needs gpa, size and hva)",
				    opts[k],
				    k == 1   ? "GPA"
				    : k == 2 ? "SIZE"
					     : "LOC");
	if ((seen & (1U << 5)) && !(seen & (1U << 4)))
		return perr(p, offset_col, "'offset' needs 'gmem OBJ'");
	op->slot = as_id << 16 | id;
	note_slot_size(p, op->size);
	return parse_results(p, op, false, false);
}

/* punch, allocate, convert: OBJ OFF SIZE; close: OBJ. */
static int parse_file_op(struct pctx *p, struct scn_op *op)
{
	static const char *const attrs[] = { "private", "shared", NULL };
	int r, k;

	r = want_obj(p, K_FILE | K_GMEM, "a file or guest_memfd name", &op->obj);
	if (r || op->kind == SCN_OP_CLOSE)
		return r ? r : parse_results(p, op, false, false);
	r = want_num(p, W_OFF, &op->addr);
	if (!r)
		r = want_num(p, W_SIZE, &op->size);
	if (!r && op->kind == SCN_OP_CONVERT) {
		r = want_word(p, attrs, &k);
		op->value = k ? 0 : MN_MEMORY_ATTRIBUTE_PRIVATE;
	}
	return r ? r : parse_results(p, op, false, false);
}

static int parse_attributes(struct pctx *p, struct scn_op *op)
{
	static const char *const attrs[] = { "private", "shared", NULL };
	int r, k;

	r = want_num(p, W_GPA, &op->addr);
	if (!r)
		r = want_num(p, W_SIZE, &op->size);
	if (!r)
		r = want_word(p, attrs, &k);
	if (r)
		return r;
	op->value = k ? 0 : MN_MEMORY_ATTRIBUTE_PRIVATE;
	return parse_results(p, op, false, false);
}

static int parse_gpc_op(struct pctx *p, struct scn_op *op, int gpc)
{
	static const char *const verbs[] = { "activate", "refresh",    "read",
					     "write",	 "deactivate", NULL };
	static const char *const by[] = { "gpa", "hva", NULL };
	unsigned int len;
	int r, k, b;

	op->obj = gpc;
	op->size = SCN_GPC_LEN;
	r = want_word(p, verbs, &k);
	if (r)
		return r;
	switch (k) {
	case 0:
		op->kind = SCN_OP_GPC_ACTIVATE;
		r = want_word(p, by, &b);
		if (r)
			return r;
		op->by_hva = b;
		r = b ? want_loc(p, &op->loc) : want_num(p, W_GPA, &op->addr);
		if (!r && is(peek(p), "len")) {
			next(p);
			r = want_small(p, W_NUM, MN_PAGE_SIZE, &len);
			op->size = len;
		}
		break;
	case 1:
		op->kind = SCN_OP_GPC_REFRESH;
		if (is(peek(p), "len")) {
			next(p);
			r = want_small(p, W_NUM, MN_PAGE_SIZE, &len);
			op->size = len;
		}
		break;
	case 2:
		op->kind = SCN_OP_GPC_READ;
		if (!at_end(p))
			r = want_num(p, W_OFF, &op->addr);
		break;
	case 3:
		op->kind = SCN_OP_GPC_WRITE;
		r = want_num(p, W_OFF, &op->addr);
		if (!r)
			r = want_num(p, W_VALUE, &op->value);
		break;
	default:
		op->kind = SCN_OP_GPC_DEACTIVATE;
		break;
	}
	return r ? r : parse_results(p, op, k == 2, false);
}

static int parse_dirty_log(struct pctx *p, struct scn_op *op)
{
	static const char *const verbs[] = { "get", "clear", NULL };
	unsigned int id, as_id = 0;
	uint64_t num;
	int r, k;

	r = want_word(p, verbs, &k);
	if (!r)
		r = want_small(p, "a memslot id (a number)", 0xffff, &id);
	if (r)
		return r;
	op->kind = k ? SCN_OP_DIRTY_CLEAR : SCN_OP_DIRTY_GET;
	if (k) {
		r = want_num(p, "a first page (a number)", &op->addr);
		if (!r)
			r = want_num(p, "a number of pages", &num);
		if (r)
			return r;
		if (num > SCN_MAX_DIRTY_PAGES)
			return perr(p, p->t[p->i - 1].col, "at most %llu pages, got %s",
				    (unsigned long long)SCN_MAX_DIRTY_PAGES, p->t[p->i - 1].s);
		op->size = num;
		op->nr_words = (size_t)(num + 63) / 64;
		op->buf = malloc((op->nr_words ? op->nr_words : 1) * sizeof(uint64_t));
		if (!op->buf)
			return -ENOMEM;
		memset(op->buf, 0xff, (op->nr_words ? op->nr_words : 1) * sizeof(uint64_t));
	}
	r = opt_as(p, &as_id);
	if (r)
		return r;
	op->slot = as_id << 16 | id;
	return parse_results(p, op, !k, false);
}

static int parse_bitmap_set(struct pctx *p, struct scn_op *op)
{
	int r;

	r = want_obj(p, K_BITMAP, "a bitmap name", &op->obj);
	if (!r)
		r = want_num(p, "a word index (a number)", &op->addr);
	if (r)
		return r;
	if (op->addr >= p->s->obj[op->obj].size)
		return perr(p, p->t[p->i - 1].col, "bitmap '%s' has %llu words, got word %s",
			    p->s->obj[op->obj].name, (unsigned long long)p->s->obj[op->obj].size,
			    p->t[p->i - 1].s);
	r = want_num(p, W_VALUE, &op->value);
	return r ? r : parse_results(p, op, false, false);
}

static int parse_spte(struct pctx *p, struct scn_op *op)
{
	int r = want_num(p, W_GPA, &op->addr);

	if (!r)
		r = opt_as(p, &op->as_id);
	return r ? r : parse_results(p, op, true, false);
}

static const struct {
	const char *word;
	enum scn_op_kind kind;
} op_words[] = {
	{ "guest", SCN_OP_GUEST },
	{ "host", SCN_OP_HOST },
	{ "munmap", SCN_OP_MUNMAP },
	{ "mprotect", SCN_OP_MPROTECT },
	{ "madvise", SCN_OP_MADVISE },
	{ "migrate", SCN_OP_MIGRATE },
	{ "age", SCN_OP_AGE },
	{ "remap", SCN_OP_REMAP },
	{ "memslot", SCN_OP_MEMSLOT },
	{ "punch", SCN_OP_PUNCH },
	{ "allocate", SCN_OP_ALLOCATE },
	{ "convert", SCN_OP_CONVERT },
	{ "attributes", SCN_OP_ATTRIBUTES },
	{ "close", SCN_OP_CLOSE },
	{ "gpc", SCN_OP_GPC_READ },
	{ "dirty-log", SCN_OP_DIRTY_GET },
	{ "bitmap-set", SCN_OP_BITMAP_SET },
	{ "yield", SCN_OP_YIELD },
	{ "spte", SCN_OP_SPTE },
};

/* The operation on the current line, appended to @q. */
static int parse_op(struct pctx *p, struct scn_seq *q, bool setup)
{
	const struct tok *kw = next(p);
	struct scn_op *op;
	char qt[96];
	size_t i;
	int r, g;

	for (i = 0; i < ARRAY_SIZE(op_words); i++)
		if (is(kw, op_words[i].word))
			break;
	if (i == ARRAY_SIZE(op_words))
		return perr(p, kw->col,
			    "expected a header, a definition, 'thread', 'after', 'expect' or an "
			    "operation (guest, host, munmap, memslot, gpc, ...), got %s",
			    quote(kw, qt, sizeof(qt)));
	op = seq_add(q);
	if (!op)
		return -ENOMEM;
	p->in_thread = !setup;
	op->kind = op_words[i].kind;
	op->line = p->line;
	op->label = make_label(p);
	if (!op->label)
		return -ENOMEM;
	switch (op->kind) {
	case SCN_OP_GUEST:
		r = parse_guest(p, op);
		break;
	case SCN_OP_HOST:
		r = parse_host(p, op);
		break;
	case SCN_OP_MUNMAP:
	case SCN_OP_MPROTECT:
	case SCN_OP_MADVISE:
	case SCN_OP_MIGRATE:
	case SCN_OP_AGE:
		r = parse_range_op(p, op);
		break;
	case SCN_OP_REMAP:
		r = parse_remap(p, op);
		break;
	case SCN_OP_MEMSLOT:
		r = parse_memslot(p, op);
		break;
	case SCN_OP_PUNCH:
	case SCN_OP_ALLOCATE:
	case SCN_OP_CONVERT:
	case SCN_OP_CLOSE:
		r = parse_file_op(p, op);
		break;
	case SCN_OP_ATTRIBUTES:
		r = parse_attributes(p, op);
		break;
	case SCN_OP_GPC_READ:
		r = want_obj(p, K_GPC, "a pfn cache name", &g);
		if (!r)
			r = parse_gpc_op(p, op, g);
		break;
	case SCN_OP_DIRTY_GET:
		r = parse_dirty_log(p, op);
		break;
	case SCN_OP_BITMAP_SET:
		r = parse_bitmap_set(p, op);
		break;
	case SCN_OP_SPTE:
		r = parse_spte(p, op);
		break;
	default:
		r = parse_results(p, op, false, false);
		break;
	}
	if (r)
		return r;
	if (setup && !p->vm_placed && scn_op_needs_vm(op->kind))
		op->make_vm = p->vm_placed = true;
	return 0;
}

/* mmap, file, gmem, bitmap, gpc NAME: setup only. */
static int parse_definition(struct pctx *p, const struct tok *kw)
{
	struct mn_script *s = p->s;
	const struct tok *name;
	struct scn_op *op;
	int r, o;

	if (p->state > ST_SETUP)
		return perr(p, kw->col,
			    "'%s' defines an object: definitions come before the first 'thread'",
			    kw->s);
	p->state = ST_SETUP;
	p->in_thread = false;
	if (is(kw, "bitmap"))
		return parse_bitmap(p);
	op = seq_add(&s->setup);
	if (!op)
		return -ENOMEM;
	op->line = p->line;
	op->label = make_label(p);
	if (!op->label)
		return -ENOMEM;
	if (is(kw, "mmap")) {
		op->kind = SCN_OP_MMAP;
		r = parse_mmap(p, op);
	} else if (is(kw, "gpc")) {
		op->kind = SCN_OP_GPC_CREATE;
		r = want_name(p, &name);
		if (r)
			return r;
		o = define(p, name, SCN_GPC);
		if (o < 0)
			return o;
		op->obj = o;
		r = end_line(p);
		if (!r) {
			op->expect.ok = true;
			op->want = dup_str("ok");
			r = op->want ? 0 : -ENOMEM;
		}
	} else {
		op->kind = is(kw, "file") ? SCN_OP_FILE : SCN_OP_GMEM;
		r = parse_file(p, op, op->kind == SCN_OP_GMEM);
	}
	if (r)
		return r;
	if (!p->vm_placed && scn_op_needs_vm(op->kind))
		op->make_vm = p->vm_placed = true;
	return 0;
}

static int parse_thread(struct pctx *p, const struct tok *kw)
{
	struct mn_script *s = p->s;
	const struct tok *name;
	struct scn_thread *t;
	unsigned int i;
	int r;

	if (p->state == ST_AFTER)
		return perr(p, kw->col, "'thread' after the 'after' block: threads come first");
	if (s->info.nr_threads == SCN_MAX_THREADS)
		return perr(p, kw->col, "too many threads (at most %d)", SCN_MAX_THREADS);
	r = want_name(p, &name);
	if (!r)
		r = end_line(p);
	if (r)
		return r;
	for (i = 0; i < s->info.nr_threads; i++)
		if (!strcmp(s->thr[i].name, name->s))
			return perr(p, name->col, "thread '%s' is already defined at line %u",
				    name->s, s->thr[i].line);
	t = &s->thr[s->info.nr_threads];
	t->name = dup_str(name->s);
	if (!t->name)
		return -ENOMEM;
	t->s = s;
	t->line = p->line;
	p->thread = (int)s->info.nr_threads++;
	p->state = ST_THREAD;
	return 0;
}

static bool is_invariant_id(const char *s)
{
	size_t i;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '_' ||
		      s[i] == '-' || s[i] == '.'))
			return false;
	return i <= 127;
}

static int parse_expect(struct pctx *p)
{
	static const char *const kinds[] = { "clean", "violation", NULL };
	struct mn_script *s = p->s;
	const struct tok *t;
	int r, k;

	r = want_word(p, kinds, &k);
	if (r)
		return r;
	if (k) {
		t = next(p);
		if (!t || t->str || !is_invariant_id(t->s))
			return expected(p, t, "an invariant id (e.g. frame.use_after_free)",
					"violation");
		s->expect_id = dup_str(t->s);
		if (!s->expect_id)
			return -ENOMEM;
		s->info.expect_id = s->expect_id;
	}
	s->info.expect = k ? MN_SCRIPT_EXPECT_VIOLATION : MN_SCRIPT_EXPECT_CLEAN;
	p->state = ST_DONE;
	return end_line(p);
}

static int parse_line(struct pctx *p)
{
	const struct tok *kw = next(p);
	char q[96];
	int h;

	if (kw->str)
		return perr(p, kw->col, "expected a keyword at the start of the line, got %s",
			    quote(kw, q, sizeof(q)));
	if (p->state == ST_DONE)
		return perr(p, kw->col, "nothing may follow the 'expect' line, got %s",
			    quote(kw, q, sizeof(q)));
	for (h = 0; h < NR_HDR; h++) {
		if (strcmp(kw->s, header_names[h]))
			continue;
		if (p->state != ST_HEADER)
			return perr(p, kw->col,
				    "'%s' is a header line: it must come before every other line",
				    kw->s);
		if (p->header_line[h])
			return perr(p, kw->col, "'%s' given twice (first at line %u)", kw->s,
				    p->header_line[h]);
		p->header_line[h] = p->line;
		if (h == H_VM || (h == H_VARIANT && !p->header_line[H_VM]) ||
		    (h == H_ARCH && !p->header_line[H_VM] && !p->header_line[H_VARIANT]))
			p->s->vm_line = p->line;
		return parse_header(p, (enum header)h);
	}
	if (is(kw, "mmap") || is(kw, "file") || is(kw, "gmem") || is(kw, "bitmap") ||
	    (is(kw, "gpc") && p->n == 2))
		return parse_definition(p, kw);
	if (is(kw, "thread"))
		return parse_thread(p, kw);
	if (is(kw, "after")) {
		if (p->state != ST_THREAD)
			return perr(p, kw->col, "'after' %s",
				    p->state == ST_AFTER ? "given twice"
							 : "must follow the thread blocks");
		p->state = ST_AFTER;
		p->s->has_after = true;
		return end_line(p);
	}
	if (is(kw, "expect"))
		return parse_expect(p);
	p->i = 0;
	switch (p->state) {
	case ST_HEADER:
	case ST_SETUP:
		p->state = ST_SETUP;
		return parse_op(p, &p->s->setup, true);
	case ST_THREAD:
		return parse_op(p, &p->s->thr[p->thread].seq, false);
	default:
		return parse_op(p, &p->s->after, false);
	}
}

/* Buffers the dirty-log reads need: one word per 64 pages of the largest memslot. */
static int size_buffers(struct pctx *p, struct scn_seq *q)
{
	uint64_t words = (p->s->max_slot_pages + 63) / 64;
	unsigned int i;

	for (i = 0; i < q->nr; i++) {
		struct scn_op *op = &q->ops[i];

		if (op->kind != SCN_OP_DIRTY_GET)
			continue;
		if (p->s->max_slot_pages > SCN_MAX_DIRTY_PAGES) {
			p->line = op->line;
			return perr(p, 1,
				    "dirty-log get: memslots larger than %llu pages are "
				    "not supported",
				    (unsigned long long)SCN_MAX_DIRTY_PAGES);
		}
		op->nr_words = (size_t)(words ? words : 1);
		op->buf = calloc(op->nr_words, sizeof(uint64_t));
		if (!op->buf)
			return -ENOMEM;
	}
	return 0;
}

static void free_seq(struct scn_seq *q)
{
	unsigned int i;

	for (i = 0; i < q->nr; i++) {
		free(q->ops[i].label);
		free(q->ops[i].want);
		free(q->ops[i].buf);
	}
	free(q->ops);
}

void mn_script_free(struct mn_script *s)
{
	unsigned int i;

	if (!s)
		return;
	free_seq(&s->setup);
	free_seq(&s->after);
	for (i = 0; i < SCN_MAX_THREADS; i++) {
		free_seq(&s->thr[i].seq);
		free(s->thr[i].name);
	}
	for (i = 0; i < s->nr_obj; i++) {
		free(s->obj[i].name);
		free(s->obj[i].init);
		free(s->bits[i]);
	}
	free(s->title);
	free(s->seed);
	free(s->expect_id);
	free(s->name);
	free(s);
}

static int parse_text(struct pctx *p, const char *text, size_t len)
{
	const char *l = text, *end = text + len;
	int r = 0;

	p->line = 0;
	while (l < end) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		size_t n = nl ? (size_t)(nl - l) : (size_t)(end - l);

		p->line++;
		r = lex(p, l, n);
		if (!r && p->n)
			r = parse_line(p);
		if (r)
			return r;
		if (!nl)
			break;
		l = nl + 1;
	}
	if (!p->s->info.nr_threads) {
		p->line++;
		return perr(p, 1,
			    "expected at least one 'thread' block before the end of the file");
	}
	return 0;
}

int mn_script_parse(const char *name, const char *text, size_t len, struct mn_script **out,
		    struct mn_script_error *err)
{
	struct pctx p = { .err = err, .thread = -1 };
	struct mn_script *s;
	unsigned int i;
	int r;

	if (!name)
		name = "<string>";
	if (err) {
		memset(err, 0, sizeof(*err));
		snprintf(err->file, sizeof(err->file), "%s", name);
	}
	if (!out || (!text && len))
		return -EINVAL;
	if (len > MAX_FILE) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "script larger than %u bytes",
				 MAX_FILE);
		return -EFBIG;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->name = dup_str(name);
	p.buf = malloc(2 * len + 2);
	if (!s->name || !p.buf) {
		r = -ENOMEM;
		goto fail;
	}
	s->info.arch = MN_VM_X86;
	s->info.bound = 2;
	s->info.checked = true;
	s->thp = MN_THP_NEVER;
	s->vm_line = 1;
	p.s = s;
	r = parse_text(&p, text, len);
	if (!r)
		r = size_buffers(&p, &s->setup);
	if (!r)
		r = size_buffers(&p, &s->after);
	for (i = 0; !r && i < s->info.nr_threads; i++)
		r = size_buffers(&p, &s->thr[i].seq);
	if (r)
		goto fail;
	free(p.buf);
	s->sc = (struct mn_scenario){
		.name = s->name, .setup = scn_setup, .check = scn_check, .arg = s
	};
	if (err)
		memset(err, 0, sizeof(*err));
	*out = s;
	return 0;
fail:
	if (r == -ENOMEM && err)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	free(p.buf);
	mn_script_free(s);
	return r;
}

int mn_script_load(const char *path, struct mn_script **out, struct mn_script_error *err)
{
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int r = 0;

	if (err) {
		memset(err, 0, sizeof(*err));
		snprintf(err->file, sizeof(err->file), "%s", path ? path : "");
	}
	if (!path || !out)
		return -EINVAL;
	f = fopen(path, "r");
	if (!f) {
		r = -errno;
		goto fail;
	}
	do {
		if (len == cap) {
			char *t;

			if (len > MAX_FILE) {
				r = -EFBIG;
				break;
			}
			cap = MN_MIN(cap ? cap * 2 : 4096, (size_t)MAX_FILE + 1);
			t = realloc(text, cap);
			if (!t) {
				r = -ENOMEM;
				break;
			}
			text = t;
		}
		errno = 0;
		n = fread(text + len, 1, cap - len, f);
		len += n;
	} while (n);
	if (!r && ferror(f))
		r = errno > 0 ? -errno : -EIO;
	fclose(f);
	if (r) {
		free(text);
		goto fail;
	}
	r = mn_script_parse(path, text, len, out, err);
	free(text);
	return r;
fail:
	if (err && r == -EFBIG)
		snprintf(err->msg, sizeof(err->msg), "larger than %u bytes", MAX_FILE);
	else if (err)
		snprintf(err->msg, sizeof(err->msg), "%s", strerror(-r));
	return r;
}

int mn_script_set_arch(struct mn_script *s, enum mn_vm_arch arch)
{
	if (arch != MN_VM_X86 && arch != MN_VM_ARM64)
		return -EINVAL;
	if (arch != MN_VM_X86 && s->vm_cfg.type != MN_VM_TYPE_DEFAULT)
		return -EINVAL;
	s->info.arch = arch;
	return 0;
}

int mn_script_set_variant(struct mn_script *s, unsigned int variant)
{
	unsigned int w = variant & (MN_VARIANT_RFC_SKIP_GMEM_ONLY |
				    MN_VARIANT_FILTER_USERSPACE_MAPPINGS | MN_VARIANT_GPC_OWN_SEQ);

	if ((variant & ~MN_VARIANT_ALL) || (w & (w - 1)))
		return -EINVAL;
	s->info.variant = variant;
	return 0;
}

const struct mn_scenario *mn_script_scenario(struct mn_script *s)
{
	return &s->sc;
}

const struct mn_script_info *mn_script_info(const struct mn_script *s)
{
	return &s->info;
}

const char *mn_script_last_error(const struct mn_script *s)
{
	return s->setup_failed ? s->last_error : NULL;
}
