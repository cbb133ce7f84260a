#!/usr/bin/env perl
# Turns what bench/run.sh collected in its work directory into the results
# file (Markdown) on standard output.
#
#   bench/report.pl WORKDIR MODULE_SO
#
# WORKDIR holds: facts (key TAB value), runs.tsv (label#round, requests,
# seconds, req/s, p50 us, p99 us, worker CPU ticks, errors, mock ticks,
# machine busy ticks, steal ticks, redis-server ticks (the Redis gateways'
# only; the three masters' for cluster), answers of status 400 and over,
# the redis-servers' script calls and microseconds in them (INFO
# commandstats)), check.tsv and cg-NAME.out (callgrind).  No target is
# asserted: each is printed with PASS or MISS.
use strict;
use warnings;
use File::Basename qw(basename);

my ($work, $module_so) = @ARGV;
die "usage: $0 WORKDIR MODULE_SO\n" unless $work;
my $module_base = basename($module_so // 'ngx_http_tfa_resend_module.so');

my %fact;
open my $fh, '<', "$work/facts" or die "$work/facts: $!\n";
while (<$fh>) {
    chomp;
    my ($k, $v) = split /\t/, $_, 2;
    $fact{$k} = $v;
}
close $fh;

my $tck = $fact{clk_tck} || 100;
my $cores = $fact{cores} || 1;

# idle_share(BUSY_TICKS, SECONDS): the % of all cores nothing ran on; the
# tick counts are read a moment apart from the run's seconds, and can
# exceed them by a tick
sub idle_share {
    my ($busy, $secs) = @_;
    my $idle = 100 - 100 * $busy / ($secs * $tck * $cores);
    return $idle < 0 ? 0 : $idle;
}

sub median {
    my @v = sort { $a <=> $b } grep { defined } @_;
    return undef unless @v;
    return $v[$#v / 2] if @v % 2;
    return ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub ratio {
    my ($a, $b) = @_;
    return undef unless defined $a && defined $b && $b;
    return $a / $b;
}

sub fmt {
    my ($v, $f) = @_;
    return 'n/a' unless defined $v;
    return sprintf $f // '%.2f', $v;
}

sub pass {
    my ($ok) = @_;
    return 'n/a' unless defined $ok;
    return $ok ? 'PASS' : 'MISS';
}

# ------------------------------------------------------------------ runs

# %runs: each gateway's runs; %round: the same by round; @all: every run in
# the order it was made, for the raw table
my (%runs, %round, @order, @all);
if (open $fh, '<', "$work/runs.tsv") {
    while (<$fh>) {
        chomp;
        my ($label, $req, $secs, $rps, $p50, $p99, $ticks, $errs, $mock,
            $busy, $steal, $redis, $non2xx, $calls, $usec) = split /\t/;
        $redis = undef if defined $redis && $redis eq '';
        $calls = undef if defined $calls && $calls eq '';
        # every request is a fresh pinId: each 2xx is an admission the
        # limiter's script recorded
        my $adm = $req - ($non2xx // 0);
        my ($name, $round) = split /#/, $label;
        push @order, $name unless $runs{$name};
        my $run = {
            label => $label, round => $round, req => $req, secs => $secs,
            rps => $rps, p50 => $p50, p99 => $p99, ticks => $ticks,
            errs => $errs, mock => $mock, busy => $busy, steal => $steal,
            redis => $redis, adm => $adm, calls => $calls,
            per_call => $calls ? $adm / $calls : undef,
            script_us => $calls && $adm > 0 ? $usec / $adm : undef,
            cpu => $req ? $ticks * 1e6 / $tck / $req : undef,
            redis_cpu => $adm > 0 && defined $redis
                         ? $redis * 1e6 / $tck / $adm : undef,
            idle => defined $busy && $secs
                    ? idle_share($busy, $secs) : undef,
        };
        $round{$name}{$round} = $run;
        push @{ $runs{$name} }, $run;
        push @all, $run;
    }
    close $fh;
}

my %med;
for my $name (@order) {
    my $r = $runs{$name};
    $med{$name} = {
        map { my $k = $_; ($k => median(map { $_->{$k} } @$r)) }
            qw(rps p50 p99 cpu idle)
    };
    for my $k (qw(redis_cpu per_call script_us)) {
        my @v = grep { defined } map { $_->{$k} } @$r;
        $med{$name}{$k} = median(@v) if @v;
    }
    $med{$name}{errs} = 0;
    $med{$name}{errs} += $_->{errs} for @$r;
}

my @gw = grep { $med{$_} } qw(floor module metrics redis rediss sentinel
                              cluster lua njs);

# paired(A, B, KEY): the median over the rounds of A's KEY / B's KEY in the
# same round.  Runs of one round are seconds apart, rounds minutes apart: a
# machine that drifts (a neighbour on the host, steal) moves both sides of
# a round's ratio, where it moves one median and not the other.
sub paired {
    my ($a, $b, $k) = @_;
    return undef unless $round{$a} && $round{$b};
    return median(map {
        ratio($round{$a}{$_}{$k}, ($round{$b}{$_} // {})->{$k})
    } keys %{ $round{$a} });
}

# ------------------------------------------------------------------ output

my $smoke = ($fact{mode} // '') eq 'smoke';

print "# Benchmark: ngx_http_tfa_resend_module, plain nginx, Lua, njs\n\n";
if ($smoke) {
    print "**Smoke run** (about a second per gateway): it shows that the kit\n"
        . "works; its figures are too short to be compared.\n\n";
}
print "Made by `bench/run.sh", ($smoke ? ' smoke' : ''), "` on $fact{date}.\n\n";

print "| | |\n| --- | --- |\n";
print "| machine | $fact{cores} cores, $fact{cpu}, Linux $fact{kernel} |\n";
print "| nginx | $fact{nginx} (Debian), lua-nginx-module $fact{lua}, njs $fact{njs}, wrk $fact{wrk} |\n";
print "| redis | redis-server $fact{redis} |\n" if $fact{redis};
print "| cluster | $fact{cluster} |\n" if $fact{cluster};
print "| commit | $fact{commit} |\n";
print "| pinning | $fact{pinning} |\n";
print "| load | $fact{load} |\n";
print "| runs | $fact{rounds} rounds of ", join(', ', @gw), " (interleaved), "
    . "$fact{duration} s each, after a $fact{warmup} s warm-up of each |\n";
print "| steal | a run the hypervisor stole more than $fact{max_steal} % of the "
    . "machine from was made again (at most twice): "
    . ($fact{repeated} // 0) . " run(s) |\n" if defined $fact{max_steal};
print "\n";

print "The gateways (one worker each, the same upstream block with\n"
    . "keepalive to a mock of the API on its own nginx worker):\n\n"
    . "- **floor**: `proxy_pass` and `proxy_set_header Authorization` only;\n"
    . "  it returns the upstream's raw body (`\"callStatus\":\"PENDING_ACCEPTED\"`);\n"
    . "- **module**: `tfa_resend on`, `tfa_resend_credentials`,\n"
    . "  `tfa_resend_limit` (3/10m, exact sliding window), normalization;\n"
    . "- **metrics**: the same as module, with a `tfa_resend_metrics` page\n"
    . "  scraped once a second during its runs"
    . ($fact{scrapes} ? " ($fact{scrapes} scrapes answered 200)" : '')
    . ";\n"
    . "  its CPU per request, scrapes included, against module's is the\n"
    . "  price of the counters;\n"
    . "- **redis**: the same as module, with the limiter's zone on the Redis\n"
    . "  store (`store=redis://`, a local redis-server without persistence,\n"
    . "  placed as the facts above say):\n"
    . "  one EVALSHA round trip per pass of the worker's event loop (the\n"
    . "  resends it read in that pass) on its kept-alive connection;\n"
    . "- **rediss**: the same over TLS (`store=rediss://`, the same\n"
    . "  redis-server's TLS port, the certificate verified);\n"
    . "- **sentinel**: the same behind one Sentinel\n"
    . "  (`store=redis-sentinel://`, the Sentinel naming the same\n"
    . "  redis-server);\n"
    . "- **cluster**: the same zone and limit on a Redis Cluster of three\n"
    . "  masters, no replicas (`store=redis-cluster://`, keys\n"
    . "  `tfa:ZONE:{PINID}`): one connection per master, the resends of a\n"
    . "  pass sent to each master as one pipelined write of script calls,\n"
    . "  one call per slot;\n"
    . "- **lua**: the same job in `access_by_lua` (a `lua_shared_dict` sliding\n"
    . "  window, pinId checks, Authorization) and `header_filter_by_lua` /\n"
    . "  `body_filter_by_lua` (lua-cjson) for the canonical body;\n"
    . "- **njs**: `js_header_filter` / `js_body_filter` for the canonical body,\n"
    . "  `limit_req` keyed on the pinId (3 at once, then 1 per minute: njs 0.7\n"
    . "  has no shared dictionary for an exact window), the pinId and method\n"
    . "  checked by the location and `if`.\n\n";

if (open $fh, '<', "$work/check.tsv") {
    print "## Same answer\n\n"
        . "Four resends of pinId `9C817C6F8AF3D48F9FE553282AFA2B67` to each\n"
        . "gateway, before measuring; for cluster, the pinId's admissions\n"
        . "counted in the cluster (`ZCARD`, following `MOVED`), then one resend\n"
        . "of each of 30 more pinIds and the keys each master holds (`DBSIZE`):\n\n"
        . "| gateway | statuses | content type | first body | |\n"
        . "| --- | --- | --- | --- | --- |\n";
    while (<$fh>) {
        chomp;
        my ($g, $st, $ct, $body, $v) = split /\t/;
        $v = 'raw upstream body (expected)' if $g eq 'floor' && $v eq 'same';
        $v =~ s/^same\b/canonical/;
        print "| $g | $st | $ct | `$body` | $v |\n";
    }
    close $fh;
    print "\n";
}

if (@gw) {
    print "## Gateways\n\n"
        . "Medians over the rounds. CPU is the gateway worker's utime+stime\n"
        . "(`/proc/PID/stat`, $tck ticks/s) over the requests wrk counted.\n\n"
        . "| gateway | req/s | p50 ms | p99 ms | CPU us/req | req/s vs floor"
        . " | CPU vs floor | p99 vs floor | errors |\n"
        . "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for my $g (@gw) {
        my $m = $med{$g};
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", $g,
            fmt($m->{rps}, '%.0f'), fmt($m->{p50} / 1000, '%.3f'),
            fmt($m->{p99} / 1000, '%.3f'), fmt($m->{cpu}, '%.1f'),
            fmt(ratio($m->{rps}, $med{floor}{rps})),
            fmt(ratio($m->{cpu}, $med{floor}{cpu})),
            fmt(ratio($m->{p99}, $med{floor}{p99})), $m->{errs};
    }
    print "\n";

    # the Redis gateways' CPU leaves out the redis-servers, which run on
    # the same cores: their CPU per admission beside the gateway's per
    # resend, and the cores left idle while resends wait for Redis
    my @rg = grep { $med{$_} } qw(redis rediss sentinel cluster);
    if (grep { defined $med{$_}{redis_cpu} } @rg) {
        print "### Redis stores\n\n"
            . "Gateway CPU per resend as above. *Redis CPU* is the"
            . " redis-servers'\nutime+stime over the run (the one"
            . " redis-server's for redis, rediss and\nsentinel, the three"
            . " masters' summed for cluster; `/proc/PID/stat`)\ndivided by"
            . " the run's admissions: the 200s the limiter let through,"
            . " which\nare every request, as each one is a fresh pinId"
            . " (answers of 400 and\nover are left out; there were"
            . " none unless *errors* above says so).\nThe ratios to"
            . " redis are per round. The redis-servers share the"
            . " $cores\ncores with the gateway, wrk and the mock."
            . " *on_store_error lines* are\nthe gateway's `[error]` lines"
            . " saying that `on_store_error` decided\n(Redis did not"
            . " answer within `redis_timeout`), one a second at most,\n"
            . "over the whole kit run. *Admissions per call* and *in the"
            . " script* come\nfrom the redis-servers' `INFO commandstats`"
            . " (EVALSHA and EVAL): the\nadmissions each script call"
            . " decided, and the time Redis counted inside\nthe calls"
            . " per admission: wall-clock time, so it includes what a"
            . "\nredis-server waited for a core in a call, and can exceed"
            . " its CPU\ntime on a machine this busy.\n\n"
            . "| gateway | gateway CPU us/resend | vs redis | Redis CPU"
            . " us/admission | vs redis | admissions per call | in the"
            . " script us/admission | gateway + Redis us | idle %"
            . " | on_store_error lines |\n"
            . "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
        for my $g (@rg) {
            my $m = $med{$g};
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                $g, fmt($m->{cpu}, '%.1f'),
                fmt(paired($g, 'redis', 'cpu')),
                fmt($m->{redis_cpu}, '%.1f'),
                fmt(paired($g, 'redis', 'redis_cpu')),
                fmt($m->{per_call}, '%.2f'),
                fmt($m->{script_us}, '%.1f'),
                fmt(defined $m->{redis_cpu} ? $m->{cpu} + $m->{redis_cpu}
                                            : undef, '%.1f'),
                fmt($m->{idle}, '%.0f'),
                $fact{"store_errors_$g"} // 'n/a';
        }
        print "\n";
        if ($med{module} && defined $med{module}{idle}) {
            printf "The machine was idle %s %% of the module's runs (no"
                . " Redis).\n", fmt($med{module}{idle}, '%.0f');
        }
        if ($fact{cluster_keys}) {
            print "After the runs the cluster's masters held"
                . " $fact{cluster_keys} keys.\n";
        }
        print "\n";
    }

    for my $what (['req/s', 'rps'], ['CPU per request', 'cpu'],
                  ['p99 latency', 'p99'])
    {
        my ($title, $k) = @$what;
        print "$title, row / column:\n\n| | ", join(' | ', @gw), " |\n| --- |",
            ' ---: |' x @gw, "\n";
        for my $r (@gw) {
            print "| $r | ", join(' | ', map {
                fmt(ratio($med{$r}{$k}, $med{$_}{$k})) } @gw), " |\n";
        }
        print "\n";
    }
}

# ------------------------------------------------------------------ zone

my ($per_pin, $full_cost, $full_paired);
if ($fact{capacity_admitted}) {
    $per_pin = $fact{capacity_bytes} / $fact{capacity_admitted};
    print "## Limiter zone\n\n"
        . "A `$fact{capacity_zone}` zone, filled with fresh pinIds until it refused:\n"
        . "$fact{capacity_admitted} admitted (counted in an access log), then\n"
        . "$fact{capacity_refused}. That is **"
        . sprintf('%.1f', $per_pin) . " bytes of zone per tracked pinId**\n"
        . "(zone size / pinIds that fit, the zone's own bookkeeping included),\n"
        . sprintf('%.0f', 128 * 1048576 / $per_pin)
        . " pinIds in a 128m zone.\n\n";
}
if ($med{'zone-full'} && $med{'zone-empty'}) {
    my ($e, $f) = ($med{'zone-empty'}, $med{'zone-full'});
    $full_cost = 1 - ratio($f->{rps}, $e->{rps});
    $full_paired = paired('zone-full', 'zone-empty', 'rps');
    $full_paired = 1 - $full_paired if defined $full_paired;
    print "Two module gateways with a `$fact{fill_zone}` zone each: one fresh,\n"
        . "one holding $fact{fill_entries} pinIds (filled by wrk in"
        . " $fact{fill_seconds} s), measured\n"
        . "interleaved, $fact{rounds} rounds of $fact{zone_duration} s, each"
        . " request a new pinId:\n\n"
        . "| zone | req/s | p50 ms | p99 ms | CPU us/req | errors |\n"
        . "| --- | ---: | ---: | ---: | ---: | ---: |\n";
    for my $z (['almost empty', $e], ["$fact{fill_entries} pinIds", $f]) {
        printf "| %s | %s | %s | %s | %s | %d |\n", $z->[0],
            fmt($z->[1]{rps}, '%.0f'), fmt($z->[1]{p50} / 1000, '%.3f'),
            fmt($z->[1]{p99} / 1000, '%.3f'), fmt($z->[1]{cpu}, '%.1f'),
            $z->[1]{errs};
    }
    printf "\nThe full zone costs %.1f %% of the throughput by the medians,"
        . " %s %% by\neach round's own ratio (CPU per request x%.2f).\n\n",
        100 * $full_cost,
        fmt(defined $full_paired ? 100 * $full_paired : undef, '%.1f'),
        ratio($f->{cpu}, $e->{cpu}) // 0;
}

# ------------------------------------------------------------------ callgrind

sub cg_parse {
    my ($file) = @_;
    my (%obname, %fnname, %by_ob, %by_fn, $ob, $fn, $skip, $total);
    open my $in, '<', $file or return;
    while (<$in>) {
        if (/^(c?ob)=\((\d+)\)(?: (.*))?$/) {
            $obname{$2} = $3 if defined $3;
            $ob = $2 if $1 eq 'ob';
        } elsif (/^(c?fn)=\((\d+)\)(?: (.*))?$/) {
            $fnname{$2} = $3 if defined $3;
            $fn = $2 if $1 eq 'fn';
        } elsif (/^calls=/) {
            $skip = 1;
        } elsif (/^(?:[+-]?\d+|\*)\s+(\d+)/) {
            if ($skip) {
                $skip = 0;
                next;
            }
            $by_ob{$ob} += $1;
            $by_fn{"$ob $fn"} += $1;
            $total += $1;
        }
    }
    close $in;
    my (%o, %f);
    $o{ basename($obname{$_} // '?') } += $by_ob{$_} for keys %by_ob;
    for (keys %by_fn) {
        my ($ob, $fn) = split / /;
        $f{ ($fnname{$fn} // '?') . ' (' . basename($obname{$ob} // '?') . ')' }
            += $by_fn{$_};
    }
    return { total => $total // 0, ob => \%o, fn => \%f };
}

my %cg;
my $n = $fact{cg_requests};
my @cgw = qw(floor module metrics module-raw lua njs);
for my $g (@cgw) {
    my $c = -f "$work/cg-$g.out" ? cg_parse("$work/cg-$g.out") : undef;
    $cg{$g} = $c if $c && $c->{total};
}

if ($n && %cg) {
    print "## Instructions per request (callgrind)\n\n"
        . "The gateway run alone under `valgrind --tool=callgrind`, collecting\n"
        . "inside `ngx_process_events_and_timers` only (the requests, not\n"
        . "start-up), for $n requests of `bench/client.pl` (one keep-alive\n"
        . "connection, a fresh pinId each). Repeatable to a fraction of a per cent.\n"
        . "*module-raw* is the module with `tfa_resend_normalize off`: the\n"
        . "difference to *module* is what the canonical rewrite costs.\n\n"
        . "| gateway | instructions/request | vs floor |\n| --- | ---: | ---: |\n";
    for my $g (grep { $cg{$_} } @cgw) {
        printf "| %s | %.0f | %s |\n", $g, $cg{$g}{total} / $n,
            $cg{floor} ? fmt($cg{$g}{total} / $cg{floor}{total}) : 'n/a';
    }
    print "\n";

    if ($cg{module} && $cg{floor}) {
        my ($m, $f) = ($cg{module}, $cg{floor});
        my %obs = (%{ $m->{ob} }, %{ $f->{ob} });
        print "By object, instructions/request:\n\n"
            . "| object | floor | module | difference |\n"
            . "| --- | ---: | ---: | ---: |\n";
        for my $o (sort { ($m->{ob}{$b} // 0) <=> ($m->{ob}{$a} // 0) }
                   keys %obs)
        {
            my ($a, $b) = (($f->{ob}{$o} // 0) / $n, ($m->{ob}{$o} // 0) / $n);
            next if $a < 1 && $b < 1;
            printf "| %s | %.0f | %.0f | %+.0f |\n", $o, $a, $b, $b - $a;
        }
        print "\nThe module's 20 costliest functions (own instructions per\n"
            . "request), with the floor's for the same function:\n\n"
            . "| function (object) | module | floor |\n"
            . "| --- | ---: | ---: |\n";
        my @top = (sort { $m->{fn}{$b} <=> $m->{fn}{$a} } keys %{ $m->{fn} })
                  [0 .. 19];
        for my $fn (grep { defined } @top) {
            printf "| %s | %.0f | %.0f |\n", $fn, $m->{fn}{$fn} / $n,
                ($f->{fn}{$fn} // 0) / $n;
        }
        print "\n";

        # inclusive costs of the module's functions and of the library
        # calls they make: where the module's instructions go
        my %inc;
        if (open my $ca, '-|', 'callgrind_annotate --inclusive=yes'
                . " --threshold=100 '$work/cg-module.out' 2>/dev/null")
        {
            while (<$ca>) {
                next unless /^\s*([\d,]+)\s+\([\s\d.]+%\)\s+\S*?:(\S+)/;
                my ($ir, $fn) = ($1, $2);
                $fn =~ s/'\d+$//;
                next unless $fn =~ /^(ngx_http_tfa_resend_|json_|pcre2_)/;
                $ir =~ tr/,//d;
                $inc{$fn} = $ir if !$inc{$fn} || $ir > $inc{$fn};
            }
            close $ca;
        }
        if (%inc) {
            print "Inclusive instructions per request of the module's"
                . " functions and the\nlibrary calls they make (a caller"
                . " includes its callees):\n\n"
                . "| function | inclusive/request |\n| --- | ---: |\n";
            my @byinc = sort { $inc{$b} <=> $inc{$a} } keys %inc;
            for my $fn (grep { defined } @byinc[0 .. 24]) {
                printf "| %s | %.0f |\n", $fn, $inc{$fn} / $n;
            }
            print "\n";
        }
    }
}

# ------------------------------------------------------------------ targets

# each target's ratio twice: of the medians, and the median of each round's
# own ratio; the verdict goes by the second (see paired() above)

my @targets = (
    ['module req/s >= 0.95 x floor', 'module', 'floor', 'rps', '>=', 0.95],
    ['module CPU/request <= 1.15 x floor', 'module', 'floor', 'cpu', '<=',
     1.15],
    ['module req/s >= 1.2 x lua', 'module', 'lua', 'rps', '>=', 1.2],
    ['module req/s >= 1.2 x njs', 'module', 'njs', 'rps', '>=', 1.2],
    ['metrics CPU/request <= 1.01 x module (counters, scraped 1/s)',
     'metrics', 'module', 'cpu', '<=', 1.01],
    ['redis store req/s >= 0.8 x shm store (module)', 'redis', 'module',
     'rps', '>=', 0.8],
    ['redis store p99 vs shm store (module), reported', 'redis', 'module',
     'p99'],
    ['rediss CPU/request <= 1.15 x redis', 'rediss', 'redis', 'cpu', '<=',
     1.15],
    ['sentinel CPU/request <= 1.05 x redis (equal once connected)',
     'sentinel', 'redis', 'cpu', '<=', 1.05],
    ['cluster CPU/request vs redis, reported', 'cluster', 'redis', 'cpu'],
    ['cluster Redis CPU/admission vs redis, reported', 'cluster', 'redis',
     'redis_cpu'],
    ['module p99 <= 1.1 x floor p99', 'module', 'floor', 'p99', '<=', 1.1],
);

print "## Targets\n\n"
    . "Reported, not asserted. *Of medians* divides the medians\n"
    . "above; *per round* is the median of each round's own ratio (runs of a\n"
    . "round are seconds apart, rounds minutes), which the verdict uses.\n\n"
    . "| target | of medians | per round | |\n| --- | ---: | ---: | --- |\n";
for my $t (@targets) {
    my ($title, $a, $b, $k, $op, $bound) = @$t;
    my $of = ($med{$a} && $med{$b}) ? ratio($med{$a}{$k}, $med{$b}{$k})
                                    : undef;
    my $per = paired($a, $b, $k);
    my $ok = (defined $per && $op) ? ($op eq '>=' ? $per >= $bound
                                                  : $per <= $bound)
                                   : undef;
    printf "| %s | %s x | %s x | %s |\n", $title, fmt($of), fmt($per),
        $op ? pass($ok) : '';
}
printf "| <= 128 bytes of zone per pinId | %s B | | %s |\n",
    fmt($per_pin, '%.1f'), pass(defined $per_pin ? $per_pin <= 128 : undef);
printf "| a full zone costs < 5 %% throughput | %s %% | %s %% | %s |\n",
    fmt(defined $full_cost ? 100 * $full_cost : undef, '%.1f'),
    fmt(defined $full_paired ? 100 * $full_paired : undef, '%.1f'),
    pass(defined $full_paired ? $full_paired < 0.05 : undef);
print "\n";

# ------------------------------------------------------------------ raw

print "## Every run\n\n"
    . "Gateway and mock CPU in clock ticks of their worker; *rest* is what\n"
    . "the whole machine spent besides them and the redis-server (wrk, and\n"
    . "anything else that ran meanwhile), as a share of all $cores cores: a\n"
    . "run with a large *rest* shared the machine. *Idle* is the share of\n"
    . "the cores nothing ran on. *Steal* is the time the hypervisor gave\n"
    . "this machine's cores to other guests, as a share of all of them.\n"
    . "*Redis ticks* are the redis-server's, in the Redis gateways' runs\n"
    . "(the three masters' summed in cluster's); *script calls* are the\n"
    . "script calls they ran meanwhile.\n\n"
    . "| run | requests | s | req/s | p50 ms | p99 ms | gateway ticks"
    . " | gateway us/req | mock ticks | redis ticks | script calls | rest %"
    . " | idle % | steal % | errors |\n"
    . "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    . " ---: | ---: | ---: | ---: | ---: |\n";
for my $run (@all) {
    my $rest = defined $run->{busy} && $run->{secs}
               ? 100 * ($run->{busy} - ($run->{steal} // 0) - $run->{ticks}
                        - $run->{mock} - ($run->{redis} // 0))
                 / ($run->{secs} * $tck * $cores)
               : undef;
    printf "| %s | %d | %.2f | %.0f | %.3f | %.3f | %d | %s | %s | %s"
        . " | %s | %s | %s | %s | %d |\n",
        $run->{label}, $run->{req}, $run->{secs}, $run->{rps},
        $run->{p50} / 1000, $run->{p99} / 1000, $run->{ticks},
        fmt($run->{cpu}, '%.1f'), $run->{mock} // 'n/a', $run->{redis} // '',
        $run->{calls} // '',
        fmt($rest, '%.0f'), fmt($run->{idle}, '%.0f'),
        fmt(defined $run->{steal} && $run->{secs}
            ? 100 * $run->{steal} / ($run->{secs} * $tck * $cores) : undef,
            '%.1f'),
        $run->{errs};
}
print "\n";
