/*
 * cli_help.c — what each command and option is for: `vouch` alone (a short
 * summary of the groups), `vouch GROUP --help` (the group's commands, one line
 * each), `vouch GROUP VERB --help` (usage, what it does, each option with its
 * values).  The texts live here, beside the command table rather than in it,
 * and a unit test checks that every command of the table has one.
 */
#include <string.h>

#include "cli/cli_internal.h"

struct summary {
    const char *group, *verb, *text;
};

static const struct summary groups[] = {
    {"tenant", NULL, "tenants of the instance (system administrator)"},
    {"system", NULL, "the _system audit chain (system administrator)"},
    {"ca", NULL, "certificate authorities: create, import, their CSRs and certificates"},
    {"profile", NULL, "certificate profiles: what a certificate of each kind contains"},
    {"cert", NULL, "certificates: issue, list, show, revoke, suspend, renew"},
    {"entity", NULL, "the people, services and devices certificates are for"},
    {"crl", NULL, "certificate revocation lists"},
    {"audit", NULL, "the tenant's audit chain: list, export, verify, checkpoints, SIEM"},
    {"tsa", NULL, "time-stamping units (RFC 3161) and the tokens they issued"},
    {"key", NULL, "keys in the signer's key store (or HSM)"},
    {"token", NULL, "API tokens of the tenant's principals"},
    {"workflow", NULL, "approval workflows: what needs how many approvals, from whom"},
    {"request", NULL, "requests waiting for approval: list, approve, reject"},
    {"webhook", NULL, "the tenant's webhook for events"},
    {"notice", NULL, "expiry notices: when, and to whom besides each certificate's entity"},
    {"principal", NULL, "users and applications of the tenant"},
    {"role", NULL, "roles bound to principals"},
    {"acme", NULL, "ACME endpoints and their external account bindings"},
    {"acme endpoint", NULL, "ACME endpoints: a directory for ACME clients each"},
    {"acme eab", NULL, "external account binding credentials of an ACME endpoint"},
    {"est", NULL, "EST enrollment (RFC 7030) for devices: endpoints and their credentials"},
    {"est endpoint", NULL, "EST endpoints: a CA, a profile and how devices authenticate"},
    {"est credential", NULL, "enrollment credentials (HTTP Basic) of an EST endpoint"},
    {"cmp", NULL, "CMP enrollment (RFC 4210/9483): endpoints and their shared secrets"},
    {"cmp endpoint", NULL, "CMP endpoints: a CA, profiles and the protection they accept"},
    {"cmp secret", NULL, "shared secrets (reference and secret) for MAC-protected requests"},
    {"import", NULL, "import a bundle from the offline CA"},
    {"report", NULL, "reports: certificates, daily, expiring, revocations, freshness, approvals"},
    {"inspect", NULL, "show what a certificate, CSR, CRL or bundle file holds (no server)"},
    {"offline", NULL, "the offline root CA, on a machine with no network (no server)"},
};

static const struct summary commands[] = {
    {"tenant", "create", "create a tenant"},
    {"tenant", "list", "list the tenants"},
    {"tenant", "show", "show a tenant and its limits"},
    {"tenant", "suspend", "suspend a tenant: it can read, revoke and export, not create"},
    {"tenant", "reactivate", "reactivate a suspended tenant"},
    {"tenant", "delete", "delete a tenant (kept for its retention period, then purged)"},
    {"tenant", "limits", "set a tenant's issuance and request-rate limits"},
    {"tenant", "token", "make a tenant's first administrator token"},
    {"system", "audit", "list the _system audit chain's events"},
    {"system", "verify", "verify the _system audit chain end to end"},
    {"system", "export", "export the _system audit chain as JSON lines"},
    {"ca", "create", "create a CA: a root, an intermediate under a parent, or an external one"},
    {"ca", "list", "list the tenant's CAs"},
    {"ca", "show", "show a CA, its certificate and settings"},
    {"ca", "csr", "write the CSR of a CA made with --external"},
    {"ca", "import-cert", "give an external CA its certificate (signed elsewhere)"},
    {"ca", "import", "import a CA with its key (PKCS#12, or PEM key and certificate)"},
    {"ca", "offline-request", "write a request for the offline root to sign a CA"},
    {"ca", "disable", "disable a CA: it issues nothing more; CRLs and OCSP go on"},
    {"profile", "list", "list the tenant's profiles"},
    {"profile", "show", "show a profile (a version of it with --version)"},
    {"profile", "create", "create a profile from a JSON file"},
    {"profile", "update", "update a profile from a JSON file (a new version)"},
    {"profile", "clone", "copy a profile under a new name"},
    {"cert", "issue", "issue a certificate from a CSR"},
    {"cert", "keygen", "issue a certificate with a key made by the server, as PKCS#12"},
    {"cert", "list", "list certificates (filters, pages)"},
    {"cert", "expiring", "list certificates expiring within N days"},
    {"cert", "show", "show a certificate"},
    {"cert", "revoke", "revoke a certificate"},
    {"cert", "suspend", "suspend a certificate (certificateHold)"},
    {"cert", "reinstate", "lift a suspension"},
    {"cert", "renew", "renew a certificate (same subject, a new CSR or the same key)"},
    {"cert", "renewal-window", "set the ACME renewal window (ARI) of a certificate"},
    {"entity", "create", "create an entity (person, service, device)"},
    {"entity", "list", "list entities"},
    {"entity", "show", "show an entity and its certificates"},
    {"entity", "update", "change an entity's attributes"},
    {"crl", "generate", "publish a new CRL of a CA now"},
    {"crl", "show", "write a CA's latest CRL"},
    {"audit", "list", "list the tenant's audit events"},
    {"audit", "export", "export the audit chain as JSON lines"},
    {"audit", "verify", "verify the audit chain (online, or an export with --offline)"},
    {"audit", "checkpoint", "sign the chain's head now"},
    {"audit", "forward", "forward the tenant's audit events to a SIEM over syslog"},
    {"audit", "forwarding", "show where audit events are forwarded"},
    {"audit", "unforward", "stop forwarding audit events"},
    {"audit", "checkpoints", "list the signed checkpoints of the chain"},
    {"tsa", "create", "create a time-stamping unit: its key and certificate"},
    {"tsa", "update", "change a unit's status, policies, hashes or accuracy"},
    {"tsa", "list", "list the time-stamping units"},
    {"tsa", "show", "show a unit"},
    {"tsa", "tokens", "list the tokens a unit issued"},
    {"tsa", "token", "show one token of a unit"},
    {"key", "list", "list the keys, their purpose and what uses them"},
    {"key", "generate", "make a key in the key store (for a CA made later)"},
    {"key", "delete", "delete a key nothing uses"},
    {"token", "create", "make an API token (for a principal: marked with its creator)"},
    {"token", "rotate", "replace the token in use by one no one else has seen"},
    {"token", "list", "list the tenant's tokens"},
    {"token", "revoke", "revoke a token"},
    {"token", "delete", "delete a token"},
    {"workflow", "list", "list the approval workflows"},
    {"workflow", "show", "show a workflow"},
    {"workflow", "set", "make or replace a workflow"},
    {"workflow", "delete", "delete a workflow"},
    {"request", "list", "list requests (pending, decided, expired)"},
    {"request", "show", "show a request and its approvals"},
    {"request", "approve", "approve a request (a second person than its maker)"},
    {"request", "reject", "reject a request, with a reason"},
    {"webhook", "show", "show the webhook"},
    {"webhook", "set", "set the webhook's URL (a new secret is shown once)"},
    {"webhook", "delete", "delete the webhook"},
    {"notice", "list", "list the notices decided: when, and whether their mail went out"},
    {"notice", "show", "show the tenant's expiry notice settings (the defaults if never set)"},
    {"notice", "set", "replace the expiry notice settings (what is not given: the default)"},
    {"principal", "create", "create a user or an application"},
    {"principal", "list", "list principals"},
    {"principal", "show", "show a principal and its roles"},
    {"principal", "disable", "disable a principal: its tokens stop working"},
    {"principal", "enable", "enable a principal again"},
    {"role", "list", "list role bindings"},
    {"role", "bind", "bind a role to a principal"},
    {"role", "unbind", "take a role away"},
    {"acme endpoint", "create", "create an ACME endpoint (a directory for ACME clients)"},
    {"acme endpoint", "list", "list ACME endpoints"},
    {"acme endpoint", "show", "show an ACME endpoint and its directory URL"},
    {"acme endpoint", "update", "change an ACME endpoint"},
    {"acme eab", "create", "make an external account binding credential (shown once)"},
    {"acme eab", "list", "list an endpoint's EAB credentials"},
    {"acme eab", "revoke",
     "revoke an EAB credential (and its accounts with --deactivate-accounts)"},
    {"est endpoint", "create",
     "create an EST or SCEP endpoint (URLs: /.well-known/est/TENANT~NAME/..., "
     "/scep/TENANT/NAME)"},
    {"est endpoint", "list", "list the EST endpoints"},
    {"est endpoint", "show", "show an EST endpoint and its URLs"},
    {"est endpoint", "update", "change an EST endpoint"},
    {"est credential", "create", "make an enrollment credential (its secret is shown once)"},
    {"est credential", "list", "list an endpoint's credentials"},
    {"est credential", "revoke", "revoke a credential"},
    {"cmp endpoint", "create", "create a CMP endpoint (its URL: /.well-known/cmp/p/TENANT~NAME)"},
    {"cmp endpoint", "list", "list the CMP endpoints"},
    {"cmp endpoint", "show", "show a CMP endpoint, its URL and its protection certificate"},
    {"cmp endpoint", "update", "change a CMP endpoint"},
    {"cmp secret", "create", "make a shared secret (the secret is shown once)"},
    {"cmp secret", "list", "list an endpoint's shared secrets"},
    {"cmp secret", "revoke", "revoke a shared secret"},
    {"import", NULL, "import a bundle from the offline CA"},
    {"report", NULL, "a report of the tenant as a table, JSON or CSV, computed by the database"},
    {"inspect", NULL, "decode a certificate, CSR, CRL or bundle file"},
};

/* Options: what they are for and the values they take; group NULL = any command's. */
static const struct summary options[] = {
    {NULL, "--ca", "the CA (its name)"},
    {NULL, "--profile", "the profile (its name)"},
    {NULL, "--csr", "a PEM CSR file"},
    {NULL, "--subject", "a distinguished name, e.g. /C=DE/O=Example/CN=host.example"},
    {NULL, "--san", "a subject alternative name: dns:NAME, ip:ADDRESS, email:ADDRESS or uri:URI"},
    {NULL, "--key-type", "ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519"},
    {NULL, "--key-id", "a key already in the key store (vouch key list)"},
    {NULL, "--validity-days", "days the certificate is valid (the profile's maximum applies)"},
    {NULL, "--reason",
     "revocation: unspecified, keyCompromise, caCompromise, affiliationChanged, superseded, "
     "cessationOfOperation, privilegeWithdrawn or aACompromise; elsewhere free text"},
    {NULL, "--invalidity-date", "when the key was compromised (RFC 3339)"},
    {NULL, "--limit", "at most N items"},
    {NULL, "--offset", "skip the first N items (the next page)"},
    {NULL, "--after", "only what comes after this (a sequence number or an RFC 3339 time)"},
    {NULL, "--before", "only what comes before this RFC 3339 time"},
    {NULL, "--page-size", "events per request while exporting"},
    {NULL, "-o", "write to this file (PEM unless --der)"},
    {NULL, "--der", "write DER instead of PEM"},
    {NULL, "--chain-out", "write the CA chain (PEM) to this file"},
    {NULL, "--chain", "a PEM file of the CA chain"},
    {NULL, "--wait", "wait for an approval workflow's decision, then show the outcome"},
    {NULL, "--wait-timeout", "seconds to wait with --wait (default 3600)"},
    {NULL, "--password", "the PKCS#12 password (prefer --password-file)"},
    {NULL, "--password-file", "a file whose first line is the PKCS#12 password"},
    {NULL, "--entity", "the entity (id) the certificate is for"},
    {NULL, "--parent", "the CA that signs this one (none: a root)"},
    {NULL, "--external", "the CA is signed elsewhere: make a CSR (vouch ca csr)"},
    {NULL, "--path-len", "pathLenConstraint of the CA certificate"},
    {NULL, "--crl-validity-hours", "hours a CRL is valid"},
    {NULL, "--crl-interval-minutes", "minutes between CRLs"},
    {NULL, "--crl-shards", "CRL partitions (1: one full CRL)"},
    {NULL, "--delta-crl-interval-minutes", "minutes between delta CRLs (0: none)"},
    {NULL, "--delta-crl-validity-hours", "hours a delta CRL is valid"},
    {NULL, "--ocsp-signer", "delegated (a responder certificate, default) or ca"},
    {NULL, "--ocsp-validity-hours", "hours an OCSP response is valid"},
    {NULL, "--pkcs12", "a PKCS#12 file (DER) with the key and certificate"},
    {NULL, "--key", "a PEM private key file"},
    {NULL, "--cert", "a PEM certificate file"},
    {NULL, "--root", "the offline root that is to sign"},
    {NULL, "--version", "a version number of the profile"},
    {"cert", "--serial", "a serial number (any notation: upper case, colons, leading zeros)"},
    {"cert", "--status", "good, revoked, hold or expired"},
    {NULL, "--expires-before", "only certificates expiring before this RFC 3339 time"},
    {NULL, "--expires-after", "only certificates expiring after this RFC 3339 time"},
    {NULL, "--days", "within N days"},
    {NULL, "--start", "start of the window (RFC 3339)"},
    {NULL, "--end", "end of the window (RFC 3339)"},
    {"entity", "--kind", "person, service or device"},
    {"principal", "--kind", "user or application"},
    {NULL, "--name", "a name"},
    {NULL, "--email", "an e-mail address"},
    {NULL, "--manufacturer", "the device's manufacturer"},
    {NULL, "--model", "the device's model"},
    {NULL, "--serial-number", "the device's serial number"},
    {NULL, "--meta", "metadata KEY=VALUE (repeat for more)"},
    {NULL, "--delta", "the delta CRL instead of the full one"},
    {NULL, "--shard", "the CRL partition (1..crl_shards)"},
    {NULL, "--offline", "a file exported with vouch audit export, verified without a server"},
    {NULL, "--host", "the syslog server (name or address)"},
    {NULL, "--port", "its port"},
    {NULL, "--transport", "tcp or tls (RFC 5425)"},
    {NULL, "--ca-file", "PEM CA certificates the syslog server's TLS certificate must chain to"},
    {NULL, "--policy", "the TSA policy OID of its tokens"},
    {NULL, "--accept-policy", "another policy OID a request may ask for (repeat for more)"},
    {NULL, "--hash", "sha256, sha384, sha512 (sha1 if allowed); repeat for more"},
    {NULL, "--accuracy-ms", "the accuracy in milliseconds put in tokens (0: none)"},
    {NULL, "--include-chain", "tokens that carry certificates carry the CA chain too"},
    {"tsa", "--status", "active or disabled"},
    {NULL, "--imprint", "the message imprint (hex) of a token"},
    {NULL, "--principal", "a principal id (vouch principal list)"},
    {NULL, "--expires-days", "days until the token expires"},
    {NULL, "--required", "approvals needed (M of M-of-N)"},
    {NULL, "--approver", "a principal id that may approve (repeat: N of M-of-N)"},
    {NULL, "--expires-hours", "hours a request waits before it expires"},
    {"request", "--status", "pending, done, rejected, expired or failed"},
    {NULL, "--requester", "the principal that made the request"},
    {NULL, "--allow", "a source network an application may call from, CIDR (repeat)"},
    {NULL, "--enabled", "yes: notices are sent (the default); no: none"},
    {"notice", "--state", "pending, sent, failed or unaddressed"},
    {NULL, "--threshold",
     "days before expiry a notice goes out, 1-3650 (repeat, up to 8; "
     "default 30, 14, 7, 1)"},
    {NULL, "--recipient", "an e-mail address every notice also goes to (repeat, up to 16)"},
    {NULL, "--principal-tenant", "the principal's tenant: this one (default) or _system"},
    {NULL, "--certs-per-hour", "certificates the tenant may issue per hour (0: no limit)"},
    {NULL, "--requests-per-second", "API requests per second of the tenant (0: no limit)"},
    {"acme", "--status", "active or disabled"},
    {NULL, "--eab-required", "yes: accounts need an external account binding"},
    {NULL, "--challenge", "http-01, dns-01 or tls-alpn-01 (repeat for more)"},
    {NULL, "--order-seconds", "seconds an order lives"},
    {NULL, "--authz-seconds", "seconds an authorization lives"},
    {NULL, "--authz-reuse-seconds", "seconds a valid authorization is reused (0: never)"},
    {NULL, "--allow-dns", "yes or no: DNS identifiers"},
    {NULL, "--allow-ip", "yes or no: IP address identifiers (RFC 8738)"},
    {NULL, "--allow-wildcard", "yes or no: wildcard DNS identifiers (through dns-01 only)"},
    {NULL, "--caa-check", "yes or no: check CAA records (RFC 8659)"},
    {NULL, "--caa-identity", "a domain CAA records may name for this CA (repeat)"},
    {NULL, "--terms-of-service", "the URL of the terms of service in the directory"},
    {NULL, "--website", "the URL of the website in the directory"},
    {NULL, "--settings", "a JSON file of the endpoint's settings"},
    {NULL, "--kid", "the key identifier (default: a random one)"},
    {NULL, "--role", "the role accounts of the credential act with"},
    {NULL, "--reusable", "the credential may register more than one account"},
    {NULL, "--deactivate-accounts", "also deactivate the accounts registered with it"},
    {NULL, "--pin", "the PIN of the bundle's signing share (offline CA)"},
    {"est", "--status", "active or disabled"},
    {NULL, "--auth",
     "basic (enrollment credentials) or certificate (TLS client certificates); "
     "repeat for both"},
    {NULL, "--client-ca", "a CA whose certificates may authenticate devices (repeat)"},
    {NULL, "--retry-after", "seconds a device is told to wait while an approval decides"},
    {NULL, "--protocol", "est (the default) or scep"},
    {NULL, "--legacy-algorithms", "yes: SCEP also accepts DES3 envelopes and SHA-1 (default no)"},
    {"cmp", "--status", "active or disabled"},
    {NULL, "--protection",
     "mac (shared secrets) or signature (client certificates); repeat for both"},
    {NULL, "--implicit-confirm", "yes or no: grant implicitConfirm when a client asks for it"},
    {NULL, "--confirm-seconds",
     "seconds a certificate waits for its certConf before it is revoked"},
    {NULL, "--time-skew-seconds", "how far a message's messageTime may be from the server's clock"},
    {NULL, "--reference", "the secret's reference, the senderKID (default: a random one)"},
    {NULL, "REFERENCE", "a shared secret's reference"},
    {"est credential", "--id", "the credential's id, the Basic user name (default: a random one)"},
    {"report", "--from", "start of the period (RFC 3339; default: 30 days before --to)"},
    {"report", "--to", "end of the period (RFC 3339, excluded; default: now)"},
    {"report", "--ca", "only this CA"},
    {"report", "--days", "expiring: within N days (default 30)"},
    {NULL, "--format", "json or csv (default: a table)"},
    {"report", "NAME", "certificates, daily, expiring, revocations, freshness or approvals"},
    /* positionals */
    {NULL, "SERIAL", "a serial number (any notation: upper case, colons, leading zeros)"},
    {NULL, "NAME", "the name"},
    {NULL, "NEWNAME", "the name of the copy"},
    {NULL, "ID", "the id"},
    {NULL, "CA", "the CA (its name)"},
    {NULL, "UNIT", "the time-stamping unit (its name)"},
    {NULL, "KEY_ID", "the key's id (vouch key list)"},
    {NULL, "URL", "the https URL events are posted to"},
    {NULL, "FILE.json", "a JSON file"},
    {NULL, "CERT.pem", "a PEM certificate file"},
    {NULL, "PRINCIPAL", "a principal id (vouch principal list)"},
    {NULL, "ROLE", "tenant-admin, ca-operator, ra-officer, requester or auditor"},
    {NULL, "ENDPOINT", "the ACME endpoint (its name)"},
    {NULL, "KID", "the credential's key identifier"},
    {NULL, "BUNDLE", "a bundle file written by vouch offline"},
    {NULL, "FILE", "a file"},
};

static int group_is(const char *want, const char *group)
{
    return want == NULL || strcmp(want, group) == 0 ||
           (strncmp(group, want, strlen(want)) == 0 && group[strlen(want)] == ' ');
}

const char *cli_command_summary(const struct cli_command *cmd)
{
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].group, cmd->group) == 0 &&
            (commands[i].verb == NULL ? cmd->verb == NULL
                                      : cmd->verb && !strcmp(commands[i].verb, cmd->verb)))
            return commands[i].text;
    return NULL;
}

const char *cli_option_help(const struct cli_command *cmd, const char *option)
{
    const char *any = NULL;

    for (size_t i = 0; i < ARRAY_LEN(options); i++)
        if (strcmp(options[i].verb, option) == 0) {
            if (options[i].group != NULL && group_is(options[i].group, cmd->group))
                return options[i].text;
            if (options[i].group == NULL && any == NULL)
                any = options[i].text;
        }
    return any;
}

static const char *group_summary(const char *group)
{
    for (size_t i = 0; i < ARRAY_LEN(groups); i++)
        if (strcmp(groups[i].group, group) == 0)
            return groups[i].text;
    return NULL;
}

void cli_help_short(FILE *f)
{
    fprintf(f, "usage: vouch [global options] COMMAND [arguments]\n\ncommands:\n");
    for (size_t i = 0; i < ARRAY_LEN(groups); i++)
        if (strchr(groups[i].group, ' ') == NULL)
            fprintf(f, "  %-10s %s\n", groups[i].group, groups[i].text);
    fprintf(f, "\nvouch GROUP --help lists a group's commands; vouch GROUP COMMAND --help tells "
               "one;\nvouch --help shows every command and the global options.\n");
}

void cli_help_group(FILE *f, const char *group)
{
    size_t n;
    const struct cli_command *cmds = cli_commands(&n);
    const char *text = group_summary(group);

    fprintf(f, "vouch %s: %s\n\n", group, text ? text : "");
    for (size_t i = 0; i < n; i++)
        if (group_is(group, cmds[i].group)) {
            char name[64];
            snprintf(name, sizeof(name), "%s%s%s", cmds[i].group, cmds[i].verb ? " " : "",
                     cmds[i].verb ? cmds[i].verb : "");
            fprintf(f, "  vouch %-24s %s\n", name, cli_command_summary(&cmds[i]));
        }
    fprintf(f, "\nvouch %s COMMAND --help tells one.\n", group);
}

void cli_help_command(FILE *f, const struct cli_command *cmd)
{
    const char *text = cli_command_summary(cmd);

    fprintf(f, "usage:\n");
    cli_usage_command(f, cmd);
    if (text != NULL)
        fprintf(f, "\n%s.\n", text);
    fprintf(f, "\noptions:\n");
    for (size_t i = 0; cmd->args[i].name != NULL; i++) {
        const struct cli_arg *a = &cmd->args[i];
        const char *help = cli_option_help(cmd, a->name);
        fprintf(f, "  %-22s %s%s\n", a->name, help ? help : "",
                a->name[0] == '-' && a->required ? " (required)" : "");
    }
    fprintf(f, "  %-22s %s\n  %-22s %s\n", "--json", "print the server's JSON as it is", "--help",
            "this text");
}
