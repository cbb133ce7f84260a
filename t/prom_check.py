#!/usr/bin/python3
"""Reads a tfa_resend_metrics page with Prometheus' own Python client.

    prom_check.py PAGE [shm:ZONE | redis:ZONE] ...

PAGE is a file with the page's body; each ZONE is a configured
tfa_resend_limit_zone with its store, in the configuration's order.  The
page is parsed by prometheus_client.parser (Debian's
python3-prometheus-client), then checked against what the module promises:
the ten families with their types, every fixed label value of every
counter, label values only from the fixed sets or the zones (read back
through the parser's unescaping), histograms whose buckets never decrease
and end in +Inf equal to _count.  Prints one line naming the parser and
what it read; exits 1 with the problems otherwise.
"""

import importlib.metadata
import sys

from prometheus_client.parser import text_string_to_metric_families


OUTCOMES = ['forwarded', 'upstream_failed', 'limited', 'invalid',
            'unavailable']
CALL_STATUSES = ['BAD_REQUEST', 'PROCESSING', 'PROCESSED',
                 'ANSWERED_MACHINE', 'ERROR', 'ERROR_NOT_ENOUGH_CREDITS',
                 'ERROR_NETWORK_NOT_AVAILABLE', 'ERROR_ROUTE_NOT_AVAILABLE',
                 'ERROR_USER_BUSY', 'ERROR_NO_ANSWER', 'UNDEFINED']
CODES = ['2xx', '4xx', '5xx']
DECISIONS = ['passed', 'rejected', 'rejected_dry_run', 'store_error_allowed',
             'store_error_rejected', 'store_error_local']
REASONS = ['connect', 'timeout', 'auth', 'reply', 'zone_full']
UPSTREAM_LE = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1',
               '2.5', '5', '10', '+Inf']
STORE_LE = ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05',
            '0.1', '0.25', '+Inf']


def main():
    page = open(sys.argv[1], encoding='utf-8').read()
    zones = [z.split(':', 1) for z in sys.argv[2:]]
    names = [name for _, name in zones]
    shm = [name for kind, name in zones if kind == 'shm']
    redis = [name for kind, name in zones if kind == 'redis']

    # the parser's family names: a counter's without _total
    want = {
        'tfa_resend_requests': ('counter', [
            {'outcome': v} for v in OUTCOMES]),
        'tfa_resend_call_status': ('counter', [
            {'call_status': v} for v in CALL_STATUSES]),
        'tfa_resend_upstream_responses': ('counter', [
            {'code': v} for v in CODES]),
        'tfa_resend_upstream_response_seconds': ('histogram', [{}]),
        'tfa_resend_limit_decisions': ('counter', [
            {'zone': z, 'decision': v} for z in names for v in DECISIONS]),
        'tfa_resend_limit_refunds': ('counter', [
            {'zone': z} for z in names]),
        'tfa_resend_store_errors': ('counter', [
            {'zone': z, 'reason': v} for z in names for v in REASONS]),
        'tfa_resend_store_seconds': ('histogram', [
            {'zone': z} for z in redis]),
        'tfa_resend_limit_zone_pins': ('gauge', [
            {'zone': z} for z in shm]),
        'tfa_resend_limit_zone_free_bytes': ('gauge', [
            {'zone': z} for z in shm]),
    }

    problems = []
    families = list(text_string_to_metric_families(page))
    samples = 0

    got = [f.name for f in families]
    if got != list(want):
        problems.append('families %r, expected %r' % (got, list(want)))

    for f in families:
        if f.name not in want:
            continue

        kind, series = want[f.name]
        samples += len(f.samples)

        if f.type != kind:
            problems.append('%s is a %s, expected %s' % (f.name, f.type, kind))
        if not f.documentation:
            problems.append('%s has no HELP text' % f.name)

        for s in f.samples:
            if s.value < 0 or s.value != s.value:
                problems.append('%s%r = %r' % (s.name, s.labels, s.value))

        if kind == 'histogram':
            problems += check_histogram(f, series)
            continue

        labels = [s.labels for s in f.samples]
        if labels != series:
            problems.append('%s: series %r, expected %r'
                            % (f.name, labels, series))

        suffix = '_total' if kind == 'counter' else ''
        for s in f.samples:
            if s.name != f.name + suffix:
                problems.append('sample %s in %s' % (s.name, f.name))

    if problems:
        print('\n'.join(problems))
        return 1

    print('prometheus_client %s (python3-prometheus-client) parsed %d '
          'families, %d samples'
          % (importlib.metadata.version('prometheus_client'), len(families),
             samples))
    return 0


def check_histogram(f, series):
    problems = []
    le = UPSTREAM_LE if f.name.endswith('upstream_response_seconds') \
        else STORE_LE

    for labels in series:
        mine = [s for s in f.samples
                if {k: v for k, v in s.labels.items() if k != 'le'} == labels]

        buckets = [s for s in mine if s.name == f.name + '_bucket']
        sums = [s for s in mine if s.name == f.name + '_sum']
        counts = [s for s in mine if s.name == f.name + '_count']

        if [s.labels.get('le') for s in buckets] != le:
            problems.append('%s%r: buckets %r' % (
                f.name, labels, [s.labels.get('le') for s in buckets]))
            continue

        values = [s.value for s in buckets]
        if values != sorted(values):
            problems.append('%s%r: buckets decrease: %r'
                            % (f.name, labels, values))

        if len(sums) != 1 or len(counts) != 1:
            problems.append('%s%r: %d _sum, %d _count'
                            % (f.name, labels, len(sums), len(counts)))
        elif counts[0].value != values[-1]:
            problems.append('%s%r: _count %r, +Inf %r'
                            % (f.name, labels, counts[0].value, values[-1]))

        if len(mine) != len(le) + 2:
            problems.append('%s%r: %d samples' % (f.name, labels, len(mine)))

    if len(f.samples) != len(series) * (len(le) + 2):
        problems.append('%s: %d samples for %d series'
                        % (f.name, len(f.samples), len(series)))

    return problems


if __name__ == '__main__':
    sys.exit(main())
