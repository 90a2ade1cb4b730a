/*
 * cli_config.c — where vouch finds its server: one table of settings, each
 * with its default, config-file key, environment variable and flag.
 * Precedence: default < ~/.config/vouch/config < ./var/cli.conf < environment
 * < flags.  VOUCH_CONFIG names the only file to read instead ("" for none).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/cli_internal.h"

#define DEFAULT_URL    "https://127.0.0.1:8443"
#define DEFAULT_TENANT "default"
#define LOCAL_CONFIG   "./var/cli.conf"

struct setting {
    const char *key; /* in config files */
    size_t offset;   /* of the char * in struct cli_config */
    const char *env;
    const char *flag;
    const char *fallback;
    const char *metavar;
};

static const struct setting settings[] = {
    {"url", offsetof(struct cli_config, url), "VOUCH_URL", "--url", DEFAULT_URL, "URL"},
    {"token", offsetof(struct cli_config, token), "VOUCH_TOKEN", "--token", NULL, "TOKEN"},
    {"tenant", offsetof(struct cli_config, tenant), "VOUCH_TENANT", "--tenant", DEFAULT_TENANT,
     "NAME"},
    {"cacert", offsetof(struct cli_config, cacert), "VOUCH_CACERT", "--cacert", NULL, "FILE"},
};

static char **setting_slot(struct cli_config *cfg, const struct setting *s)
{
    return (char **)((char *)cfg + s->offset);
}

static void setting_put(struct cli_config *cfg, const struct setting *s, const char *value)
{
    char **slot = setting_slot(cfg, s);

    if (*slot != NULL)
        secure_zero(*slot, strlen(*slot)); /* the token */
    free(*slot);
    *slot = value ? xstrdup(value) : NULL;
}

static const struct setting *setting_by_key(const char *key)
{
    for (size_t i = 0; i < ARRAY_LEN(settings); i++)
        if (strcmp(settings[i].key, key) == 0)
            return &settings[i];
    return NULL;
}

static char *trim(char *s)
{
    char *end = s + strlen(s);

    s += strspn(s, " \t");
    while (end > s && strchr(" \t\r\n", end[-1]) != NULL)
        *--end = '\0';
    return s;
}

/* One line of a config file: blank, "# comment" or "key=value". */
static int config_line(struct cli_config *cfg, char *line, const char *path, int lineno,
                       struct err *e)
{
    char *eq, *key = trim(line);
    const struct setting *s;

    if (*key == '\0' || *key == '#')
        return 0;
    if ((eq = strchr(key, '=')) == NULL)
        return err_set(e, ERR_USAGE, "%s:%d: expected key=value", path, lineno);
    *eq = '\0';
    if ((s = setting_by_key(trim(key))) == NULL)
        return err_set(e, ERR_USAGE, "%s:%d: unknown key \"%s\"", path, lineno, trim(key));
    setting_put(cfg, s, trim(eq + 1));
    return 0;
}

int cli_config_file(struct cli_config *cfg, const char *path, struct err *e)
{
    FILE *f = fopen(path, "r");
    char *token_before = cfg->token, *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    struct stat st;

    if (f == NULL && errno == ENOENT)
        return 0;
    if (f == NULL)
        return err_setc(e, ERR_INVALID, "config", "%s: %s", path, strerror(errno));
    cfg->token = NULL; /* so that a token of this file is seen as one */
    while (rc == 0 && getline(&line, &cap, f) > 0)
        rc = config_line(cfg, line, path, ++lineno, e);
    if (cfg->token == NULL) {
        cfg->token = token_before;
    } else {
        if (token_before != NULL)
            secure_zero(token_before, strlen(token_before));
        free(token_before);
        /* A token others can read is a token others have. */
        if (rc == 0 && fstat(fileno(f), &st) == 0 &&
            (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) != 0)
            rc = err_setc(e, ERR_USAGE, "config",
                          "%s holds a token and others can read it (mode %04o): run chmod 600 %s",
                          path, (unsigned)(st.st_mode & 07777), path);
    }
    if (line != NULL)
        secure_zero(line, cap);
    free(line);
    fclose(f);
    return rc;
}

/* ~/.config/vouch/config (or under $XDG_CONFIG_HOME), then ./var/cli.conf. */
static int config_files(struct cli_config *cfg, struct err *e)
{
    const char *only = getenv("VOUCH_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *user = NULL;
    int rc;

    if (only != NULL)
        return *only ? cli_config_file(cfg, only, e) : 0;
    if (xdg != NULL && *xdg != '\0')
        user = xasprintf("%s/vouch/config", xdg);
    else if (home != NULL && *home != '\0')
        user = xasprintf("%s/.config/vouch/config", home);
    rc = user ? cli_config_file(cfg, user, e) : 0;
    free(user);
    return rc == 0 ? cli_config_file(cfg, LOCAL_CONFIG, e) : rc;
}

int cli_config_load(struct cli_config *cfg, struct err *e)
{
    const char *insecure;

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < ARRAY_LEN(settings); i++)
        setting_put(cfg, &settings[i], settings[i].fallback);
    if (config_files(cfg, e) != 0)
        return -1;
    for (size_t i = 0; i < ARRAY_LEN(settings); i++) {
        const char *v = getenv(settings[i].env);

        if (v != NULL && *v != '\0')
            setting_put(cfg, &settings[i], v);
    }
    insecure = getenv("VOUCH_INSECURE_HTTP");
    cfg->insecure_http =
        insecure != NULL && (strcmp(insecure, "1") == 0 || strcasecmp(insecure, "yes") == 0 ||
                             strcasecmp(insecure, "true") == 0);
    return 0;
}

/* A setting's flag at argv[*i] ("--url X" or "--url=X"); 1 taken, 0 not a setting, -1 error. */
static int setting_flag(struct cli_config *cfg, int argc, char **argv, int *i, struct err *e)
{
    const char *a = argv[*i];

    for (size_t k = 0; k < ARRAY_LEN(settings); k++) {
        size_t n = strlen(settings[k].flag);

        if (strncmp(a, settings[k].flag, n) != 0 || (a[n] != '\0' && a[n] != '='))
            continue;
        if (a[n] == '=')
            setting_put(cfg, &settings[k], a + n + 1);
        else if (*i + 1 < argc)
            setting_put(cfg, &settings[k], argv[++*i]);
        else
            return err_set(e, ERR_USAGE, "%s needs a value", settings[k].flag);
        return 1;
    }
    return 0;
}

int cli_config_args(struct cli_config *cfg, int argc, char **argv, int *first, int *help,
                    struct err *e)
{
    int i, r;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0)
            cfg->json = 1;
        else if (strcmp(argv[i], "--insecure-http") == 0)
            cfg->insecure_http = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            *help = 1;
        else if ((r = setting_flag(cfg, argc, argv, &i, e)) < 0)
            return -1;
        else if (r == 0)
            return err_set(e, ERR_USAGE, "unknown option %s", argv[i]);
    }
    *first = i;
    return 0;
}

/*
 * Whether the host of an http:// or https:// URL is this machine's loopback:
 * "localhost", an address of 127.0.0.0/8, ::1 or ::ffff:127.x.y.z.  Anything
 * else (another name, 127.1 and the like) is not.
 */
int cli_url_is_loopback(const char *url)
{
    const char *auth = strstr(url, "://"), *end, *at;
    struct in6_addr a6;
    struct in_addr a4;
    char host[256];
    size_t n;

    if (auth == NULL)
        return 0;
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    for (at = auth; at < end; at++) /* user:password@ */
        if (*at == '@')
            auth = at + 1;
    if (*auth == '[') {
        n = strcspn(auth + 1, "]");
        auth++;
    } else {
        n = strcspn(auth, ":/?#");
    }
    if (n == 0 || n >= sizeof(host) || auth + n > end)
        return 0;
    memcpy(host, auth, n);
    host[n] = '\0';
    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return 0;
}

int cli_config_check(struct cli_config *cfg, enum cli_scope scope, struct err *e)
{
    size_t n = strlen(cfg->url);

    if (scope == SCOPE_LOCAL)
        return 0;
    if (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0)
        return err_set(e, ERR_USAGE, "--url: expected http:// or https://, got %s", cfg->url);
    while (n > 0 && cfg->url[n - 1] == '/')
        cfg->url[--n] = '\0';
    if (cfg->token == NULL || *cfg->token == '\0')
        return err_set(e, ERR_USAGE,
                       "no API token: use --token, VOUCH_TOKEN or token= in the config file");
    if (strncmp(cfg->url, "http://", 7) == 0 && !cli_url_is_loopback(cfg->url) &&
        !cfg->insecure_http)
        return err_set(e, ERR_USAGE,
                       "--url %s: refusing to send the token over plain HTTP to a host that is "
                       "not this machine's loopback; use https:// (or --insecure-http if a "
                       "network you trust carries it)",
                       cfg->url);
    return 0;
}

void cli_config_free(struct cli_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < ARRAY_LEN(settings); i++)
        setting_put(cfg, &settings[i], NULL);
}

json_t *cli_config_json(void)
{
    json_t *all = json_array();

    for (size_t i = 0; i < ARRAY_LEN(settings); i++)
        json_array_append_new(all,
                              json_pack("{s:s, s:s, s:s, s:s, s:s?}", "flag", settings[i].flag,
                                        "metavar", settings[i].metavar, "env", settings[i].env,
                                        "key", settings[i].key, "default", settings[i].fallback));
    return all;
}

void cli_usage_globals(FILE *f)
{
    char opt[64];

    for (size_t i = 0; i < ARRAY_LEN(settings); i++) {
        snprintf(opt, sizeof(opt), "%s %s", settings[i].flag, settings[i].metavar);
        fprintf(f, "  %-18s env %s%s%s\n", opt, settings[i].env,
                settings[i].fallback ? ", default " : "",
                settings[i].fallback ? settings[i].fallback : "");
    }
    fprintf(f,
            "  %-18s print the server's JSON as it is\n"
            "  %-18s send the token over http:// to a host off loopback (env "
            "VOUCH_INSECURE_HTTP=1)\n"
            "  %-18s this text\n"
            "  %-18s the version and the commit it was built from (alone)\n"
            "config files (key=value lines: url, token, tenant, cacert):\n"
            "  ~/.config/vouch/config, then ./var/cli.conf; or only $VOUCH_CONFIG\n",
            "--json", "--insecure-http", "--help", "--version");
}
