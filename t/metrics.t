# The Prometheus page (tfa_resend_metrics): the text exposition format
# 0.0.4 with every family of docs/metrics.md's table, every fixed label
# value printed from zero, zone labels from the configured zones only; GET
# and HEAD, 405 for the rest; the counters' shared memory kept across
# reloads.
# The page is read back by two real parsers: Debian's python3-prometheus-
# client (t/prom_check.py) and promtool (Debian's prometheus package).
#
# Blocks without --- config continue the previous block on the same running
# nginx: that is how the reload sequence is written.
#
# The traffic blocks assert each sample's change across known traffic, not
# its value: under `make test-valgrind` this file runs on one nginx that is
# reloaded block by block (TEST_NGINX_USE_HUP=1), and the counts of the
# blocks before carry over.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend qw(nginx_t reload_nginx edit_conf free_port mock_infobip
                 redis_start);
use IO::Socket::INET;
use File::Temp qw(tempfile);

master_on();
workers(2);
no_shuffle();


# ---- helpers for what Test::Nginx has no section for ------------------

# one request on its own connection: (status, headers, body); $head:
# header lines, each ending in \r\n; $body: sent with its Content-Length
sub http {
    my ($method, $path, $head, $body) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => server_port(),
                                  Proto => 'tcp', Timeout => 20)
        or die "connect: $!";

    print $s "$method $path HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n" . ($head // '')
             . (defined $body ? "Content-Length: " . length($body) . "\r\n"
                : '')
             . "\r\n" . ($body // '');

    local $/;
    my $r = <$s> // '';
    close $s;

    $r =~ m{^HTTP/1\.1 (\d{3})[^\r]*\r\n(.*?)\r\n\r\n(.*)\z}s
        or die "$method $path: no HTTP response: $r";

    return ($1, $2, $3);
}

# the page read by prometheus_client: the checker's line, or its problems
sub python_check {
    my ($page, @zones) = @_;

    my ($fh, $file) = tempfile(UNLINK => 1);
    binmode $fh;
    print $fh $page;
    close $fh;

    # Debian's python3, where python3-prometheus-client installs
    open my $out, '-|', '/usr/bin/python3', "$FindBin::Bin/prom_check.py",
                        $file, @zones
        or die "python3: $!";
    local $/;
    my $text = <$out> // '';
    close $out;

    return ($? >> 8, $text);
}

# the page read by `promtool check metrics`: (exit code, output, version)
sub promtool_check {
    my $page = shift;

    my ($fh, $file) = tempfile(UNLINK => 1);
    binmode $fh;
    print $fh $page;
    close $fh;

    my $out = `promtool check metrics < $file 2>&1`;
    my $rc = $? >> 8;
    my $version = `promtool --version 2>&1` =~ /version (\S+)/ ? $1 : '?';

    return ($rc, $out, $version);
}


# the page's samples: { 'name{labels}' => value }
sub samples {
    my $page = shift;
    my %v;

    for (split /\n/, $page) {
        next if /^#/;
        /^(\S+) (\S+)$/ or die "not a sample line: $_";
        $v{$1} = $2;
    }

    return \%v;
}

# how each sample changed from $before to $after, but for the gauges (read
# at scrape time) and what depends on how long things took (the
# histograms' sums and finite buckets): the samples that changed, as
# "name{labels} +N" lines, sorted
sub changes {
    my ($before, $after) = @_;
    my @c;

    for my $k (sort keys %$after) {
        next if $k =~ /^tfa_resend_limit_zone_|_sum(?:\{|$)/
                || $k =~ /_bucket\{.*le="[0-9.]+"\}$/;
        my $d = $after->{$k} - ($before->{$k} // 0);
        push @c, "$k +$d" if $d;
    }

    return join '', map { "$_\n" } @c;
}

# a resend's path
sub pin_path { "/2fa/2/pin/$_[0]/resend/voice" }


# the traffic's servers: the mock Infobip API, a Redis, a port nothing
# listens on, and one that takes connections and never answers
our $RedisPort = free_port();
redis_start($RedisPort);
our $MockPort = free_port($RedisPort);
our $DeadPort = free_port($RedisPort, $MockPort);
our $Silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                    Listen => 64, ReuseAddr => 1)
    or die "listen: $!";
our $SilentPort = $Silent->sockport;


# the page of the first configuration before any traffic, exactly; FREE
# stands for a zone's free bytes, which depend on the page size
our $Page0 = <<'_EOP_';
# HELP tfa_resend_requests_total Intercepted resend requests by how they ended, counted once when the answer is sent.
# TYPE tfa_resend_requests_total counter
tfa_resend_requests_total{outcome="forwarded"} 0
tfa_resend_requests_total{outcome="upstream_failed"} 0
tfa_resend_requests_total{outcome="limited"} 0
tfa_resend_requests_total{outcome="invalid"} 0
tfa_resend_requests_total{outcome="unavailable"} 0
# HELP tfa_resend_call_status_total Answers sent to intercepted resends by canonical callStatus.
# TYPE tfa_resend_call_status_total counter
tfa_resend_call_status_total{call_status="BAD_REQUEST"} 0
tfa_resend_call_status_total{call_status="PROCESSING"} 0
tfa_resend_call_status_total{call_status="PROCESSED"} 0
tfa_resend_call_status_total{call_status="ANSWERED_MACHINE"} 0
tfa_resend_call_status_total{call_status="ERROR"} 0
tfa_resend_call_status_total{call_status="ERROR_NOT_ENOUGH_CREDITS"} 0
tfa_resend_call_status_total{call_status="ERROR_NETWORK_NOT_AVAILABLE"} 0
tfa_resend_call_status_total{call_status="ERROR_ROUTE_NOT_AVAILABLE"} 0
tfa_resend_call_status_total{call_status="ERROR_USER_BUSY"} 0
tfa_resend_call_status_total{call_status="ERROR_NO_ANSWER"} 0
tfa_resend_call_status_total{call_status="UNDEFINED"} 0
# HELP tfa_resend_upstream_responses_total Answers of the upstream to forwarded resends by status class.
# TYPE tfa_resend_upstream_responses_total counter
tfa_resend_upstream_responses_total{code="2xx"} 0
tfa_resend_upstream_responses_total{code="4xx"} 0
tfa_resend_upstream_responses_total{code="5xx"} 0
# HELP tfa_resend_upstream_response_seconds Time from forwarding a resend to the upstream's complete answer.
# TYPE tfa_resend_upstream_response_seconds histogram
tfa_resend_upstream_response_seconds_bucket{le="0.005"} 0
tfa_resend_upstream_response_seconds_bucket{le="0.01"} 0
tfa_resend_upstream_response_seconds_bucket{le="0.025"} 0
tfa_resend_upstream_response_seconds_bucket{le="0.05"} 0
tfa_resend_upstream_response_seconds_bucket{le="0.1"} 0
tfa_resend_upstream_response_seconds_bucket{le="0.25"} 0
tfa_resend_upstream_response_seconds_bucket{le="0.5"} 0
tfa_resend_upstream_response_seconds_bucket{le="1"} 0
tfa_resend_upstream_response_seconds_bucket{le="2.5"} 0
tfa_resend_upstream_response_seconds_bucket{le="5"} 0
tfa_resend_upstream_response_seconds_bucket{le="10"} 0
tfa_resend_upstream_response_seconds_bucket{le="+Inf"} 0
tfa_resend_upstream_response_seconds_sum 0.000000
tfa_resend_upstream_response_seconds_count 0
# HELP tfa_resend_limit_decisions_total Decisions of the resend limiter by zone.
# TYPE tfa_resend_limit_decisions_total counter
tfa_resend_limit_decisions_total{zone="one",decision="passed"} 0
tfa_resend_limit_decisions_total{zone="one",decision="rejected"} 0
tfa_resend_limit_decisions_total{zone="one",decision="rejected_dry_run"} 0
tfa_resend_limit_decisions_total{zone="one",decision="store_error_allowed"} 0
tfa_resend_limit_decisions_total{zone="one",decision="store_error_rejected"} 0
tfa_resend_limit_decisions_total{zone="one",decision="store_error_local"} 0
tfa_resend_limit_decisions_total{zone="remote",decision="passed"} 0
tfa_resend_limit_decisions_total{zone="remote",decision="rejected"} 0
tfa_resend_limit_decisions_total{zone="remote",decision="rejected_dry_run"} 0
tfa_resend_limit_decisions_total{zone="remote",decision="store_error_allowed"} 0
tfa_resend_limit_decisions_total{zone="remote",decision="store_error_rejected"} 0
tfa_resend_limit_decisions_total{zone="remote",decision="store_error_local"} 0
# HELP tfa_resend_limit_refunds_total Admissions taken back because no call was placed.
# TYPE tfa_resend_limit_refunds_total counter
tfa_resend_limit_refunds_total{zone="one"} 0
tfa_resend_limit_refunds_total{zone="remote"} 0
# HELP tfa_resend_store_errors_total Failures of the limiter's store by zone and reason.
# TYPE tfa_resend_store_errors_total counter
tfa_resend_store_errors_total{zone="one",reason="connect"} 0
tfa_resend_store_errors_total{zone="one",reason="timeout"} 0
tfa_resend_store_errors_total{zone="one",reason="auth"} 0
tfa_resend_store_errors_total{zone="one",reason="reply"} 0
tfa_resend_store_errors_total{zone="one",reason="zone_full"} 0
tfa_resend_store_errors_total{zone="remote",reason="connect"} 0
tfa_resend_store_errors_total{zone="remote",reason="timeout"} 0
tfa_resend_store_errors_total{zone="remote",reason="auth"} 0
tfa_resend_store_errors_total{zone="remote",reason="reply"} 0
tfa_resend_store_errors_total{zone="remote",reason="zone_full"} 0
# HELP tfa_resend_store_seconds Redis round trip of one admission.
# TYPE tfa_resend_store_seconds histogram
tfa_resend_store_seconds_bucket{zone="remote",le="0.0005"} 0
tfa_resend_store_seconds_bucket{zone="remote",le="0.001"} 0
tfa_resend_store_seconds_bucket{zone="remote",le="0.0025"} 0
tfa_resend_store_seconds_bucket{zone="remote",le="0.005"} 0
tfa_resend_store_seconds_bucket{zone="remote",le="0.01"} 0
tfa_resend_store_seconds_bucket{zone="remote",le="0.025"} 0
tfa_resend_store_seconds_bucket{zone="remote",le="0.05"} 0
tfa_resend_store_seconds_bucket{zone="remote",le="0.1"} 0
tfa_resend_store_seconds_bucket{zone="remote",le="0.25"} 0
tfa_resend_store_seconds_bucket{zone="remote",le="+Inf"} 0
tfa_resend_store_seconds_sum{zone="remote"} 0.000000
tfa_resend_store_seconds_count{zone="remote"} 0
# HELP tfa_resend_limit_zone_pins PinIds tracked now in a shared-memory limit zone.
# TYPE tfa_resend_limit_zone_pins gauge
tfa_resend_limit_zone_pins{zone="one"} 0
# HELP tfa_resend_limit_zone_free_bytes Free bytes in the slab of a shared-memory limit zone.
# TYPE tfa_resend_limit_zone_free_bytes gauge
tfa_resend_limit_zone_free_bytes{zone="one"} FREE
_EOP_

our $Page0Re = quotemeta $Page0;
$Page0Re =~ s/FREE/[1-9][0-9]*/g;
$Page0Re = qr/\A$Page0Re\z/;


our $Zones = <<'_EOC_';
    tfa_resend_limit_zone zone=one:1m rate=3/10m;

    # a Redis zone: no traffic here, so nothing connects to it
    tfa_resend_limit_zone zone=remote:1m rate=3/10m
                          store=redis://127.0.0.1:1;
_EOC_

our $Config = <<'_EOC_';
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=one;
        proxy_pass http://127.0.0.1:1;
    }

    location = /metrics {
        tfa_resend_metrics;
    }
_EOC_


# ---- configuration errors: nginx -t ------------------------------------

for my $bad (
    [ "server { listen 127.0.0.1:1; tfa_resend_metrics; }",
      qr/"tfa_resend_metrics" directive is not allowed here/ ],
    [ "server { listen 127.0.0.1:1; location / { tfa_resend_metrics on; } }",
      qr/invalid number of arguments in "tfa_resend_metrics" directive/ ],
) {
    my ($rc, $out) = nginx_t($bad->[0]);
    isnt($rc, 0, "nginx -t refuses: $bad->[0]");
    like($out, $bad->[1], "nginx -t says why: $bad->[0]");
}


run_tests();


__DATA__

=== TEST 1: no traffic yet: every family with # HELP and # TYPE, every fixed label value at 0, a series per configured zone (histogram for the Redis one, gauges for the shared-memory one)
--- http_config eval
$::Zones
--- config eval
$::Config
--- request
GET /metrics
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- response_body_like eval
$::Page0Re



=== TEST 2: HEAD: the headers of GET, Content-Length included, and no body
--- init
my ($status, $headers, $body) = ::http('GET', '/metrics');
my $len = length $body;
($status, $headers, $body) = ::http('HEAD', '/metrics');
Test::More::is($status, 200, 'TEST 2: HEAD answers 200');
Test::More::like($headers, qr/^Content-Length: $len\r?$/mi,
                 "TEST 2: HEAD's Content-Length is GET's body, $len bytes");
Test::More::is($body, '', 'TEST 2: HEAD has no body');
--- request
HEAD /metrics
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- response_body



=== TEST 3: other methods: 405 with Allow
--- request eval
[
"POST /metrics\nx",
"PUT /metrics\nx",
"DELETE /metrics",
]
--- error_code eval
[405, 405, 405]
--- response_headers eval
[
"Allow: GET, HEAD",
"Allow: GET, HEAD",
"Allow: GET, HEAD",
]



=== TEST 4: parsers: prometheus_client reads the families, types and series the module promises; promtool check metrics finds no problem
--- init
my ($status, $headers, $page) = ::http('GET', '/metrics');
my ($rc, $out) = ::python_check($page, 'shm:one', 'redis:remote');
chomp $out;
Test::More::is($rc, 0, 'TEST 4: prometheus_client: the page as promised')
    or Test::More::diag($out);
Test::More::like($out, qr/^prometheus_client \S+ \(python3-prometheus-client\) parsed 10 families, 71 samples$/m,
                 "TEST 4: $out");
my $version;
($rc, $out, $version) = ::promtool_check($page);
Test::More::is($rc, 0, "TEST 4: promtool $version check metrics: exit 0");
Test::More::is($out, '', "TEST 4: promtool $version check metrics: no problem");
--- request
GET /metrics
--- error_code: 200



=== TEST 5: the checker is not fooled: a zone the page does not have, or a page cut short, fail it
--- init
my ($status, $headers, $page) = ::http('GET', '/metrics');
my ($rc, $out) = ::python_check($page, 'shm:one', 'shm:two', 'redis:remote');
Test::More::is($rc, 1, 'TEST 5: an extra zone is missed');
Test::More::like($out, qr/tfa_resend_limit_refunds: series/,
                 'TEST 5: and said so');
(my $cut = $page) =~ s/^tfa_resend_upstream_response_seconds_count .*\n//m;
($rc, $out) = ::python_check($cut, 'shm:one', 'redis:remote');
Test::More::is($rc, 1, 'TEST 5: a histogram without _count is refused');
(my $down = $page) =~ s/^(tfa_resend_store_seconds_bucket\{zone="remote",le="0.0005"\}) 0$/$1 7/m;
($rc, $out) = ::python_check($down, 'shm:one', 'redis:remote');
Test::More::like($out, qr/buckets decrease/,
                 'TEST 5: decreasing buckets are refused');
--- request
GET /metrics
--- error_code: 200



=== TEST 6: zone names are label values escaped as the format asks (", \ and a newline), read back as configured; UTF-8 as it is
--- http_config
    tfa_resend_limit_zone "zone=a\"b\\c\nd:1m" rate=3/10m;
    tfa_resend_limit_zone zone=zürich:1m rate=3/10m;
--- config
    location = /metrics {
        tfa_resend_metrics;
    }
--- init
my ($status, $headers, $page) = ::http('GET', '/metrics');
my ($rc, $out) = ::python_check($page, "shm:a\"b\\c\nd", 'shm:zürich');
Test::More::is($rc, 0, 'TEST 6: prometheus_client reads the names back')
    or Test::More::diag($out);
my $version;
($rc, $out, $version) = ::promtool_check($page);
Test::More::is("$rc $out", '0 ', "TEST 6: promtool $version check metrics: no problem");
--- request
GET /metrics
--- response_body_like eval
qr/\ntfa_resend_limit_refunds_total\{zone="a\\"b\\\\c\\nd"\} 0\n/
. qr/tfa_resend_limit_refunds_total\{zone="zürich"\} 0\n#/



=== TEST 7: a page without any tfa_resend on: the counters' zone is made for the page alone; no zone, no zone series, the families still there
--- config
    location = /metrics {
        tfa_resend_metrics;
    }
--- request
GET /metrics
--- response_body eval
(my $page = $::Page0) =~ s/^.*zone=.*\n//mg;
$page



=== TEST 8: reload, before: zones one and remote
--- http_config eval
$::Zones
--- config eval
$::Config
--- request
GET /metrics
--- response_body_like eval
$::Page0Re



=== TEST 9: reload with the zones swapped and one added: the same memory goes on (logged), each zone's series under its own name, in the new order
--- init
::edit_conf('tfa_resend_limit_zone zone=one:1m rate=3/10m;',
          'tfa_resend_limit_zone zone=two:1m rate=3/10m;');
::edit_conf('store=redis://127.0.0.1:1;',
          "store=redis://127.0.0.1:1;\n"
          . 'tfa_resend_limit_zone zone=one:1m rate=3/10m;');
::reload_nginx();
--- request
GET /metrics
--- response_body_like eval
qr/\ntfa_resend_limit_refunds_total\{zone="two"\} 0\n/
. qr/tfa_resend_limit_refunds_total\{zone="remote"\} 0\n/
. qr/tfa_resend_limit_refunds_total\{zone="one"\} 0\n#/
--- error_log eval
qr/\[notice\] .*tfa_resend_metrics: the counts go on in the same memory \(room for \d+ limit zones\)/
--- no_error_log
copied from the old



=== TEST 10: the page after the reload parses as promised
--- init
my ($status, $headers, $page) = ::http('GET', '/metrics');
my ($rc, $out) = ::python_check($page, 'shm:two', 'redis:remote', 'shm:one');
Test::More::is($rc, 0, 'TEST 10: prometheus_client: the page as promised')
    or Test::More::diag($out);
--- request
GET /metrics
--- error_code: 200



=== TEST 11: reload with more zones than the memory has room for: new memory, the counts copied into it (logged); 120 zones with long names on the page
--- init
my $more = join '', map {
    sprintf "tfa_resend_limit_zone zone=%s%03d:32k rate=1/1m;\n", 'z' x 100, $_
} 1 .. 120;
::edit_conf('tfa_resend_limit_zone zone=one:1m rate=3/10m;',
          "tfa_resend_limit_zone zone=one:1m rate=3/10m;\n$more");
::reload_nginx();
my ($status, $headers, $page) = ::http('GET', '/metrics');
my @zones = ('shm:two', 'redis:remote', 'shm:one',
             map { sprintf 'shm:%s%03d', 'z' x 100, $_ } 1 .. 120);
my ($rc, $out) = ::python_check($page, @zones);
Test::More::is($rc, 0, 'TEST 11: prometheus_client: all 123 zones')
    or Test::More::diag($out);
my $version;
($rc, $out, $version) = ::promtool_check($page);
Test::More::is("$rc $out", '0 ', "TEST 11: promtool $version check metrics: no problem");
--- request
GET /metrics
--- response_body_like
tfa_resend_limit_zone_pins\{zone="z{100}120"\} 0
--- error_log eval
qr/\[notice\] .*tfa_resend_metrics: the counts go on in new memory of \d+ bytes \(room for \d+ limit zones\), copied from the old/
--- timeout: 20



=== TEST 12: the gauges are read at scrape time: three pinIds admitted in a shared-memory zone are three pins, in fewer free bytes; no pinId on the page
--- http_config
    tfa_resend_limit_zone zone=gauged:64k rate=3/10m;

    server {
        listen 127.0.0.1:1991;
        default_type application/json;

        location / {
            return 200 '{"pinId":"x","to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
        }
    }
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=gauged;
        proxy_pass http://127.0.0.1:1991;
    }

    location = /metrics {
        tfa_resend_metrics;
    }
--- init
my ($status, $headers, $page) = ::http('GET', '/metrics');
my ($free0) = $page =~ /^tfa_resend_limit_zone_free_bytes\{zone="gauged"\} (\d+)$/m;
for my $pin (qw(12000000000000000000000000000001
                12000000000000000000000000000002
                12000000000000000000000000000003
                12000000000000000000000000000003)) {
    ($status) = ::http('POST', "/2fa/2/pin/$pin/resend/voice");
    Test::More::is($status, 200, "TEST 12: resend of $pin admitted");
}
($status, $headers, $page) = ::http('GET', '/metrics');
Test::More::like($page, qr/^tfa_resend_limit_zone_pins\{zone="gauged"\} 3$/m,
                 'TEST 12: 3 pins');
my ($free1) = $page =~ /^tfa_resend_limit_zone_free_bytes\{zone="gauged"\} (\d+)$/m;
Test::More::cmp_ok($free1, '<', $free0,
                   "TEST 12: free bytes went down, $free0 to $free1");
Test::More::unlike($page, qr/12000000000000000000000000000/,
                   'TEST 12: no pinId on the page');
--- request
GET /metrics
--- error_code: 200



=== TEST 13: known traffic, each sample's change exactly, summed over 2 workers: admitted, limited, invalid (405, 400, 415, 413, a bad body), dry run, refunded after an upstream 500, an upstream timeout (504, refunded), Redis down with each on_store_error, a Redis round trip; no pinId on the page
--- http_config eval
"
    tfa_resend_limit_zone zone=traffic:1m rate=2/10m;
    tfa_resend_limit_zone zone=dry:1m rate=1/10m;
    tfa_resend_limit_zone zone=down_reject:1m rate=3/10m
        store=redis://127.0.0.1:$::DeadPort on_store_error=reject;
    tfa_resend_limit_zone zone=down_allow:1m rate=3/10m
        store=redis://127.0.0.1:$::DeadPort on_store_error=allow;
    tfa_resend_limit_zone zone=down_local:1m rate=3/10m
        store=redis://127.0.0.1:$::DeadPort on_store_error=local;
    tfa_resend_limit_zone zone=live:1m rate=3/10m
        store=redis://127.0.0.1:$::RedisPort redis_timeout=5s;
" . ::mock_infobip($::MockPort)
--- config eval
"
    tfa_resend on;
    tfa_resend_credentials basic \"user:pass\";
    tfa_resend_pass_header X-Mock-Status;
    tfa_resend_limit_refund on;
    proxy_read_timeout 1s;

    location /2fa/ {
        client_max_body_size 1k;
        tfa_resend_limit zone=traffic;
        proxy_pass http://127.0.0.1:$::MockPort;
    }

    # by the pinId's first digits
    location ~ ^/2fa/2/pin/9 {
        tfa_resend_limit zone=traffic;
        proxy_pass http://127.0.0.1:$::SilentPort;
    }

    location ~ ^/2fa/2/pin/8 {
        tfa_resend_limit zone=dry;
        tfa_resend_limit_dry_run on;
        proxy_pass http://127.0.0.1:$::MockPort;
    }

    location ~ ^/2fa/2/pin/71 {
        tfa_resend_limit zone=down_reject;
        proxy_pass http://127.0.0.1:$::MockPort;
    }

    location ~ ^/2fa/2/pin/72 {
        tfa_resend_limit zone=down_allow;
        proxy_pass http://127.0.0.1:$::MockPort;
    }

    location ~ ^/2fa/2/pin/73 {
        tfa_resend_limit zone=down_local;
        proxy_pass http://127.0.0.1:$::MockPort;
    }

    location ~ ^/2fa/2/pin/6 {
        tfa_resend_limit zone=live;
        proxy_pass http://127.0.0.1:$::MockPort;
    }

    location = /metrics {
        tfa_resend_metrics;
    }
"
--- init
my $before = ::samples((::http('GET', '/metrics'))[2]);
my (%status, %call_status);
my $json = "Content-Type: application/json\r\n";
for my $r (
    # admitted; admitted twice then limited
    [ 200, 'POST', ::pin_path('1' x 32), $json, '' ],
    [ 200, 'POST', ::pin_path('2' x 32), $json, '' ],
    [ 200, 'POST', ::pin_path('2' x 32), $json, '' ],
    [ 429, 'POST', ::pin_path('2' x 32), $json, '' ],
    # invalid: method, pinId, media type, size (nginx's), body
    [ 405, 'GET', ::pin_path('3' x 32) ],
    [ 400, 'POST', ::pin_path('xyz'), $json, '' ],
    [ 415, 'POST', ::pin_path('3' x 32), "Content-Type: text/plain\r\n", 'x' ],
    [ 413, 'POST', ::pin_path('3' x 32), $json, '{"x":"' . ('y' x 2000) . '"}' ],
    [ 400, 'POST', ::pin_path('3' x 32), $json, '[' ],
    # the upstream fails: admitted, forwarded, refunded
    [ 500, 'POST', ::pin_path('4' x 32), $json . "X-Mock-Status: 500\r\n", '' ],
    # dry run: the second is over the limit and let through
    [ 200, 'POST', ::pin_path('8' x 32), $json, '' ],
    [ 200, 'POST', ::pin_path('8' x 32), $json, '' ],
    # the upstream never answers: 504 of the gateway, refunded
    [ 504, 'POST', ::pin_path('9' x 32), $json, '' ],
    # Redis down: reject, allow, local
    [ 503, 'POST', ::pin_path('71' . '0' x 30), $json, '' ],
    [ 200, 'POST', ::pin_path('72' . '0' x 30), $json, '' ],
    [ 200, 'POST', ::pin_path('73' . '0' x 30), $json, '' ],
    # Redis answers
    [ 200, 'POST', ::pin_path('6' x 32), $json, '' ],
) {
    my ($want, @req) = @$r;
    my ($status, $headers, $body) = ::http(@req);
    Test::More::is($status, $want, "TEST 13: $req[0] $req[1]: $want");
    my ($cs) = $body =~ /"callStatus":"(\w+)"/;
    $call_status{$cs // 'none'}++;
}
my $page = (::http('GET', '/metrics'))[2];
my $after = ::samples($page);
# the callStatus of each answer, as the clients read them
my @want = map {
    "tfa_resend_call_status_total{call_status=\"$_\"} +$call_status{$_}\n"
} keys %call_status;
push @want, <<_EOC_ =~ /(.*\n)/g;
tfa_resend_limit_decisions_total{zone="down_allow",decision="store_error_allowed"} +1
tfa_resend_limit_decisions_total{zone="down_local",decision="store_error_local"} +1
tfa_resend_limit_decisions_total{zone="down_reject",decision="store_error_rejected"} +1
tfa_resend_limit_decisions_total{zone="dry",decision="passed"} +1
tfa_resend_limit_decisions_total{zone="dry",decision="rejected_dry_run"} +1
tfa_resend_limit_decisions_total{zone="live",decision="passed"} +1
tfa_resend_limit_decisions_total{zone="traffic",decision="passed"} +5
tfa_resend_limit_decisions_total{zone="traffic",decision="rejected"} +1
tfa_resend_limit_refunds_total{zone="traffic"} +2
tfa_resend_requests_total{outcome="forwarded"} +9
tfa_resend_requests_total{outcome="invalid"} +5
tfa_resend_requests_total{outcome="limited"} +1
tfa_resend_requests_total{outcome="unavailable"} +1
tfa_resend_requests_total{outcome="upstream_failed"} +1
tfa_resend_store_errors_total{zone="down_allow",reason="connect"} +1
tfa_resend_store_errors_total{zone="down_local",reason="connect"} +1
tfa_resend_store_errors_total{zone="down_reject",reason="connect"} +1
tfa_resend_store_seconds_bucket{zone="live",le="+Inf"} +1
tfa_resend_store_seconds_count{zone="live"} +1
tfa_resend_upstream_response_seconds_bucket{le="+Inf"} +9
tfa_resend_upstream_response_seconds_count +9
tfa_resend_upstream_responses_total{code="2xx"} +8
tfa_resend_upstream_responses_total{code="5xx"} +1
_EOC_
Test::More::is(::changes($before, $after), join('', sort @want),
               'TEST 13: every sample changed by exactly the traffic');
my $le = 'tfa_resend_upstream_response_seconds_bucket{le="2.5"}';
Test::More::is($after->{$le} - $before->{$le}, 9,
               'TEST 13: the 9 upstream answers took less than 2.5 s');
my $sum = 'tfa_resend_upstream_response_seconds_sum';
Test::More::cmp_ok($after->{$sum} - $before->{$sum}, '>', 0,
                   'TEST 13: and some time');
Test::More::unlike($page, qr/1111111111|2222222222|6666666666|xyz/,
                   'TEST 13: no pinId on the page');
--- request
GET /metrics
--- error_code: 200
--- timeout: 30



=== TEST 14: the counts survive a reload, and go on from there: one more admitted resend counts on top
--- init
my $before = ::samples((::http('GET', '/metrics'))[2]);
::edit_conf('proxy_read_timeout 1s;', 'proxy_read_timeout 2s;');
::reload_nginx();
my $reloaded = ::samples((::http('GET', '/metrics'))[2]);
Test::More::is(::changes($before, $reloaded), '',
               'TEST 14: nothing changed across the reload');
Test::More::cmp_ok($reloaded->{'tfa_resend_requests_total{outcome="forwarded"}'},
                   '>=', 9, 'TEST 14: the traffic is still counted');
my ($status) = ::http('POST', ::pin_path('5' x 32),
                      "Content-Type: application/json\r\n", '');
Test::More::is($status, 200, 'TEST 14: one more resend admitted');
my $after = ::samples((::http('GET', '/metrics'))[2]);
Test::More::is(::changes($reloaded, $after), <<'_EOC_',
tfa_resend_call_status_total{call_status="PROCESSING"} +1
tfa_resend_limit_decisions_total{zone="traffic",decision="passed"} +1
tfa_resend_requests_total{outcome="forwarded"} +1
tfa_resend_upstream_response_seconds_bucket{le="+Inf"} +1
tfa_resend_upstream_response_seconds_count +1
tfa_resend_upstream_responses_total{code="2xx"} +1
_EOC_
    'TEST 14: counted on top of the counts before the reload');
--- request
GET /metrics
--- error_code: 200
--- timeout: 30
