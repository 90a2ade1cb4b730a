/*
 * pattern.c — keeps profile patterns (POSIX EREs) cheap to compile and to
 * match.  glibc's regcomp expands repetitions by copying the repeated
 * subexpression ("x+" becomes "xx*", "x{n,m}" m copies of x), so stacked or
 * nested repetitions grow exponentially: "[a-z]+++++...+" alone exhausts
 * gigabytes.  Back-references make matching exponential.  A profile author
 * (a tenant administrator) must not be able to take the server down that
 * way, so before regcomp sees a pattern it must pass these rules:
 *
 *   - at most PATTERN_TEXT_MAX bytes and PATTERN_DEPTH_MAX nested groups;
 *   - no quantifier directly after another one ("a++", "a*{2}");
 *   - the pattern expanded as regcomp expands it has at most PATTERN_COST_MAX
 *     atoms: "+" doubles what it repeats, "{n,m}" multiplies it by m;
 *   - no back-references (\1 ... \9).
 *
 * This is a conservative estimate, not a full ERE parser: what passes is
 * still left to regcomp to accept or reject.
 */
#include "core/core_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define PATTERN_TEXT_MAX  256
#define PATTERN_DEPTH_MAX 8
#define PATTERN_COST_MAX  2048L

enum prev_token { PREV_NONE, PREV_ATOM, PREV_QUANTIFIER };

struct pattern_scan {
    const char *p;
    int depth;
    enum prev_token prev;
    long last;                        /* cost of the atom a quantifier would repeat */
    long cost[PATTERN_DEPTH_MAX + 1]; /* cost so far of each open group (0: the pattern) */
    char *why;
    size_t len;
};

/* Past a bracket expression at s ('['), or NULL if it does not close. */
static const char *skip_bracket(const char *s)
{
    s++;
    if (*s == '^')
        s++;
    if (*s == ']')
        s++;
    while (*s != '\0' && *s != ']') {
        if (*s == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
            const char *end = strchr(s + 2, s[1]);
            while (end != NULL && end[1] != ']')
                end = strchr(end + 1, s[1]);
            if (end == NULL)
                return NULL;
            s = end + 2;
        } else {
            s++;
        }
    }
    return *s == ']' ? s + 1 : NULL;
}

/* Digits at *s as a number, capped above PATTERN_COST_MAX. */
static long interval_bound(const char **s)
{
    long n = 0;

    while (isdigit((unsigned char)**s)) {
        if (n <= PATTERN_COST_MAX)
            n = n * 10 + (**s - '0');
        (*s)++;
    }
    return n;
}

/* How many copies of its operand the quantifier at sc->p makes; advances sc->p. */
static long quantifier_factor(struct pattern_scan *sc)
{
    const char *s = sc->p + 1;
    long low, high;

    if (*sc->p != '{')
        return *sc->p++ == '+' ? 2 : 1; /* "x+" is "xx*"; "x*" and "x?" copy nothing */
    low = high = interval_bound(&s);
    if (*s == ',') {
        s++;
        high = isdigit((unsigned char)*s) ? interval_bound(&s) : low + 1;
    }
    if (*s != '}') {
        sc->p++; /* not an interval: regcomp decides */
        return 1;
    }
    sc->p = s + 1;
    return low > high ? low : high > 0 ? high : 1;
}

static int scan_quantifier(struct pattern_scan *sc)
{
    long factor;

    if (sc->prev == PREV_QUANTIFIER)
        return snprintf(sc->why, sc->len, "a quantifier after a quantifier"), -1;
    factor = quantifier_factor(sc);
    if (factor > PATTERN_COST_MAX || sc->last * factor > PATTERN_COST_MAX)
        return snprintf(sc->why, sc->len, "repetitions expand too far"), -1;
    sc->cost[sc->depth] += sc->last * (factor - 1);
    sc->last *= factor;
    sc->prev = PREV_QUANTIFIER;
    return 0;
}

static int scan_group(struct pattern_scan *sc)
{
    long inner;

    if (*sc->p++ == '(') {
        if (++sc->depth > PATTERN_DEPTH_MAX)
            return snprintf(sc->why, sc->len, "more than %d nested groups", PATTERN_DEPTH_MAX), -1;
        sc->cost[sc->depth] = 0;
        sc->prev = PREV_NONE;
        return 0;
    }
    inner = sc->depth > 0 ? sc->cost[sc->depth--] : 1; /* ')' */
    sc->cost[sc->depth] += inner;
    sc->last = inner;
    sc->prev = PREV_ATOM;
    return 0;
}

/* The next token at sc->p. */
static int scan_token(struct pattern_scan *sc)
{
    const char *s = sc->p;

    if (*s == '\\' && s[1] >= '1' && s[1] <= '9')
        return snprintf(sc->why, sc->len, "back-references are not supported"), -1;
    if (*s == '*' || *s == '+' || *s == '?' || *s == '{')
        return scan_quantifier(sc);
    if (*s == '(' || *s == ')')
        return scan_group(sc);
    if (*s == '[')
        sc->p = skip_bracket(s) ? skip_bracket(s) : s + 1;
    else if (*s == '\\' && s[1] != '\0')
        sc->p = s + 2;
    else
        sc->p = s + 1;
    sc->prev = *s == '|' ? PREV_NONE : PREV_ATOM;
    sc->last = *s == '|' ? 0 : 1;
    sc->cost[sc->depth] += sc->last;
    return 0;
}

int pattern_check(const char *pattern, char *why, size_t len)
{
    struct pattern_scan sc = {.p = pattern, .prev = PREV_NONE, .why = why, .len = len};

    if (strlen(pattern) > PATTERN_TEXT_MAX)
        return snprintf(why, len, "longer than %d bytes", PATTERN_TEXT_MAX), -1;
    while (*sc.p != '\0') {
        if (scan_token(&sc) != 0)
            return -1;
        if (sc.cost[sc.depth] > PATTERN_COST_MAX)
            return snprintf(why, len, "repetitions expand too far"), -1;
    }
    return 0;
}
