/*
 * builtin.c — the built-in profiles every tenant starts with.  They are plain
 * profile documents (docs/profiles.md); tenants clone and edit them.
 */
#include "core/core_internal.h"

#include <string.h>

#define ALL_KEYS "[\"ec-p256\", \"ec-p384\", \"rsa-2048\", \"rsa-3072\", \"rsa-4096\", \"ed25519\"]"
/* What the CA/Browser Forum Baseline Requirements allow (§6.1.5): no Ed25519. */
#define BR_KEYS "[\"ec-p256\", \"ec-p384\", \"rsa-2048\", \"rsa-3072\", \"rsa-4096\"]"

static const char tls_server[] =
    "{\n"
    "  \"description\": \"TLS server, domain validated (CA/Browser Forum Baseline "
    "Requirements)\",\n"
    "  \"validity\": {\"default_days\": 90, \"max_days\": 200, \"backdate_seconds\": 300},\n"
    "  \"key_types\": " BR_KEYS ",\n"
    "  \"key_usage\": [\"digitalSignature\", \"keyEncipherment\"],\n"
    "  \"extended_key_usage\": [\"serverAuth\"],\n"
    "  \"basic_constraints\": {\"ca\": false},\n"
    "  \"policies\": [\"2.23.140.1.2.1\"],\n"
    "  \"subject\": {\"CN\": \"optional\", \"C\": \"optional\", \"other\": \"forbidden\"},\n"
    "  \"san\": {\"dns\": {\"rule\": \"optional\", \"max\": 100},\n"
    "          \"ip\": {\"rule\": \"optional\", \"max\": 20},\n"
    "          \"required\": true, \"cn_in_san\": true},\n"
    "  \"aia\": {\"ocsp\": true, \"ca_issuers\": true},\n"
    "  \"cdp\": true,\n"
    "  \"signature_digest\": \"auto\"\n"
    "}\n";

static const char tls_client[] =
    "{\n"
    "  \"description\": \"TLS client: users, devices and services\",\n"
    "  \"validity\": {\"default_days\": 365, \"max_days\": 825},\n"
    "  \"key_types\": " ALL_KEYS ",\n"
    "  \"key_usage\": [\"digitalSignature\"],\n"
    "  \"extended_key_usage\": [\"clientAuth\"],\n"
    "  \"basic_constraints\": {\"ca\": false},\n"
    "  \"subject\": {\"CN\": \"required\", \"O\": \"optional\", \"OU\": {\"rule\": \"optional\", "
    "\"max\": 4},\n"
    "              \"L\": \"optional\", \"ST\": \"optional\", \"C\": \"optional\",\n"
    "              \"emailAddress\": \"optional\", \"serialNumber\": \"optional\",\n"
    "              \"UID\": \"optional\", \"DC\": {\"rule\": \"optional\", \"max\": 8}},\n"
    "  \"san\": {\"dns\": {\"rule\": \"optional\", \"max\": 20}, \"ip\": {\"rule\": \"optional\", "
    "\"max\": 20},\n"
    "          \"email\": {\"rule\": \"optional\", \"max\": 10}, \"uri\": {\"rule\": "
    "\"optional\", \"max\": 10}},\n"
    "  \"aia\": {\"ocsp\": true, \"ca_issuers\": true},\n"
    "  \"cdp\": true\n"
    "}\n";

static const char email[] =
    "{\n"
    "  \"description\": \"S/MIME: signed and encrypted e-mail\",\n"
    "  \"validity\": {\"default_days\": 365, \"max_days\": 825},\n"
    "  \"key_types\": " ALL_KEYS ",\n"
    "  \"key_usage\": [\"digitalSignature\", \"keyEncipherment\", \"keyAgreement\"],\n"
    "  \"extended_key_usage\": [\"emailProtection\"],\n"
    "  \"basic_constraints\": {\"ca\": false},\n"
    "  \"subject\": {\"CN\": \"optional\", \"O\": \"optional\", \"OU\": \"optional\",\n"
    "              \"L\": \"optional\", \"ST\": \"optional\", \"C\": \"optional\",\n"
    "              \"GN\": \"optional\", \"SN\": \"optional\", \"pseudonym\": \"optional\",\n"
    "              \"emailAddress\": \"optional\", \"serialNumber\": \"optional\"},\n"
    "  \"san\": {\"email\": {\"rule\": \"required\", \"max\": 10}, \"required\": true},\n"
    "  \"aia\": {\"ocsp\": true, \"ca_issuers\": true},\n"
    "  \"cdp\": true\n"
    "}\n";

static const char code_signing[] =
    "{\n"
    "  \"description\": \"Code signing (CA/Browser Forum code signing requirements)\",\n"
    "  \"validity\": {\"default_days\": 365, \"max_days\": 460},\n"
    "  \"key_types\": [\"ec-p256\", \"ec-p384\", \"rsa-3072\", \"rsa-4096\"],\n"
    "  \"key_usage\": [\"digitalSignature\"],\n"
    "  \"extended_key_usage\": [\"codeSigning\"],\n"
    "  \"basic_constraints\": {\"ca\": false},\n"
    "  \"policies\": [\"2.23.140.1.4.1\"],\n"
    "  \"subject\": {\"CN\": \"required\", \"O\": \"required\", \"OU\": \"optional\",\n"
    "              \"L\": \"optional\", \"ST\": \"optional\", \"C\": \"required\"},\n"
    "  \"aia\": {\"ocsp\": true, \"ca_issuers\": true},\n"
    "  \"cdp\": true\n"
    "}\n";

static const char sub_ca[] =
    "{\n"
    "  \"description\": \"Intermediate (issuing) CA\",\n"
    "  \"validity\": {\"default_days\": 1825, \"max_days\": 3650},\n"
    "  \"key_types\": " ALL_KEYS ",\n"
    "  \"key_usage\": [\"digitalSignature\", \"keyCertSign\", \"cRLSign\"],\n"
    "  \"basic_constraints\": {\"ca\": true, \"path_len\": 0},\n"
    "  \"subject\": {\"CN\": \"required\", \"O\": \"optional\", \"OU\": \"optional\",\n"
    "              \"L\": \"optional\", \"ST\": \"optional\", \"C\": \"optional\",\n"
    "              \"DC\": {\"rule\": \"optional\", \"max\": 8}},\n"
    "  \"aia\": {\"ocsp\": true, \"ca_issuers\": true},\n"
    "  \"cdp\": true\n"
    "}\n";

static const char root_ca[] =
    "{\n"
    "  \"description\": \"Self-signed root CA\",\n"
    "  \"validity\": {\"default_days\": 3650, \"max_days\": 9131},\n"
    "  \"key_types\": " ALL_KEYS ",\n"
    "  \"key_usage\": [\"digitalSignature\", \"keyCertSign\", \"cRLSign\"],\n"
    "  \"basic_constraints\": {\"ca\": true},\n"
    "  \"subject\": {\"CN\": \"required\", \"O\": \"optional\", \"OU\": \"optional\",\n"
    "              \"L\": \"optional\", \"ST\": \"optional\", \"C\": \"optional\",\n"
    "              \"DC\": {\"rule\": \"optional\", \"max\": 8}}\n"
    "}\n";

static const char ocsp_signing[] =
    "{\n"
    "  \"description\": \"Delegated OCSP responder (RFC 6960 §4.2.2.2)\",\n"
    "  \"validity\": {\"default_days\": 7, \"max_days\": 31},\n"
    "  \"key_types\": " ALL_KEYS ",\n"
    "  \"key_usage\": [\"digitalSignature\"],\n"
    "  \"extended_key_usage\": [\"OCSPSigning\"],\n"
    "  \"basic_constraints\": {\"ca\": false},\n"
    "  \"subject\": {\"CN\": \"required\", \"O\": \"optional\", \"OU\": \"optional\",\n"
    "              \"C\": \"optional\"},\n"
    "  \"ocsp_nocheck\": true\n"
    "}\n";

static const char time_stamping[] =
    "{\n"
    "  \"description\": \"Time-stamping authority (RFC 3161 §2.3)\",\n"
    "  \"validity\": {\"default_days\": 1095, \"max_days\": 3650},\n"
    "  \"key_types\": " ALL_KEYS ",\n"
    "  \"key_usage\": [\"digitalSignature\", \"nonRepudiation\"],\n"
    "  \"extended_key_usage\": [\"timeStamping\"],\n"
    "  \"eku_critical\": true,\n"
    "  \"basic_constraints\": {\"ca\": false},\n"
    "  \"subject\": {\"CN\": \"required\", \"O\": \"optional\", \"OU\": \"optional\",\n"
    "              \"L\": \"optional\", \"ST\": \"optional\", \"C\": \"optional\"},\n"
    "  \"aia\": {\"ocsp\": true, \"ca_issuers\": true},\n"
    "  \"cdp\": true\n"
    "}\n";

static const char *const builtin_names[] = {
    "tls-server", "tls-client",   "email",         "code-signing", "sub-ca",
    "root-ca",    "ocsp-signing", "time-stamping", NULL,
};

static const char *const builtin_docs[] = {
    tls_server, tls_client, email, code_signing, sub_ca, root_ca, ocsp_signing, time_stamping,
};

const char *const *profile_builtin_names(void)
{
    return builtin_names;
}

const char *profile_builtin_json(const char *name)
{
    for (size_t i = 0; name != NULL && builtin_names[i] != NULL; i++)
        if (strcmp(builtin_names[i], name) == 0)
            return builtin_docs[i];
    return NULL;
}
