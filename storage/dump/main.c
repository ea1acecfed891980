/*
 * gslb-dump - print the LMDB environment of an overwatch, read-only
 * (docs/gslb-dump.md).
 */
#include "dump.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_DATA_DIR "/var/lib/opengslb"

static void usage(FILE *f)
{
    fputs("usage: gslb-dump [--json] [--secrets] [--data-dir DIR] [TABLE...]\n"
          "\n"
          "Print the storage of an OpenGSLB overwatch (read-only; safe while it runs).\n"
          "\n"
          "  --json           one JSON document (for jq) instead of text columns\n"
          "  --secrets        include DNSSEC private keys (base64 of PKCS#8 DER)\n"
          "  --data-dir DIR   the overwatch's data_dir (default " DEFAULT_DATA_DIR ")\n"
          "  --help           this text\n"
          "  --version        print the version\n"
          "\n"
          "TABLE: meta zones domains backends agents dnssec_keys overrides audit answers\n"
          "(default: all but answers)\n"
          "\n"
          "Exit status: 0 ok, 1 environment missing/damaged/unreadable, 2 some records\n"
          "could not be decoded, 64 bad usage.\n",
          f);
}

/* Last line of defence: LMDB maps the file and trusts its pages, so a data file
 * damaged in a way no check caught can fault or trip one of LMDB's internal
 * assertions (abort). Report it as a damaged environment, not a crash. */
static void on_fault(int sig)
{
    static const char msg[] = "gslb-dump: fatal: the environment is damaged (fault while "
                              "reading the data file)\n";
    ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)n;
    _exit(GSLB_DUMP_ERROR);
}

static void install_fault_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fault;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},           {"secrets", no_argument, NULL, 's'},
        {"data-dir", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0},
    };
    gslb_dump_opts_t o = {.data_dir = DEFAULT_DATA_DIR};
    int c;
    while ((c = getopt_long(argc, argv, "jsd:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o.json = true;
            break;
        case 's':
            o.secrets = true;
            break;
        case 'd':
            o.data_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("gslb-dump %s\n", GSLB_VERSION);
            return 0;
        default:
            usage(stderr);
            return GSLB_DUMP_USAGE;
        }
    }
    for (int i = optind; i < argc; i++) {
        unsigned bit = gslb_dump_table_parse(argv[i]);
        if (!bit) {
            fprintf(stderr, "gslb-dump: unknown table \"%s\"\n", argv[i]);
            usage(stderr);
            return GSLB_DUMP_USAGE;
        }
        o.tables |= bit;
    }
    install_fault_handlers();
    int rc = gslb_dump_run(&o, stdout, stderr);
    if (fflush(stdout) != 0 && rc == GSLB_DUMP_OK)
        rc = GSLB_DUMP_ERROR;
    return rc;
}
