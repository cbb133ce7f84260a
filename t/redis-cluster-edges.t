# The Redis Cluster store at its edges: a cluster on TLS only
# (store=rediss-cluster://), its nodes found by CLUSTER SLOTS and each
# verified by its own name; an ACL user with exactly the rules the cluster
# store needs, and users lacking one; a master that stays connected but
# stops answering (SIGSTOP), then goes on (SIGCONT): within the cutoff
# (10 x redis_timeout), and past it.  X-Worker tells which worker answered:
# each worker keeps its own links, and learns of the silence on its own;
# those blocks also listen on port 1983 with reuseport, so that resends
# sent one after another reach both workers.
#
# Two clusters of three masters each (Debian's redis-server, no replicas,
# cluster-node-timeout 60s so that no node is taken for failed while it is
# stopped) are started by this file on free loopback ports and stopped
# after the tests (t/TfaResend.pm): one on TLS only (tls-cluster,
# tls-replication, no plain-text port), its first node with the
# certificate of tls_files() (localhost, redis.test, 127.0.0.1), the other
# two with one for the names only (no IP address); one in plain text, with
# ACL users on every node.  The mock Infobip API (port 1980) answers the
# resends let through.  A second gateway nginx (port 1982, 2 workers) with
# the TLS cluster's zone runs beside the tested one.
#
# Every block starts its own nginx (no chains): the file runs as it is
# under valgrind, which stops nginx after each block.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use File::Temp qw(tempdir);
use Time::HiRes ();

master_on();
workers(2);
worker_connections(512);
no_shuffle();


our $Dir = tempdir(CLEANUP => 1);
our $Tls = tls_files($Dir);

# a server certificate for the names only: a node that has it matches
# "localhost" or "redis.test", never "127.0.0.1"
{
    open my $ext, '>', "$Dir/names.ext" or die "names.ext: $!";
    print $ext "subjectAltName=DNS:localhost,DNS:redis.test\n";
    close $ext;

    system("openssl req -newkey rsa:2048 -nodes -subj /CN=tfa-names "
           . "-keyout $Dir/names.key -out $Dir/names.csr 2>/dev/null "
           . "&& openssl x509 -req -in $Dir/names.csr -CA $Dir/ca.crt "
           . "-CAkey $Dir/ca.key -CAcreateserial -days 2 "
           . "-extfile $Dir/names.ext -out $Dir/names.crt 2>/dev/null") == 0
        or die 'openssl: the names-only certificate';
    chmod 0644, "$Dir/names.key";
}

our @T;
push @T, free_port(@T) for 1 .. 3;
our @P;
push @P, free_port(@T, @P) for 1 .. 3;

cluster_start(\@T, tls => $Tls,
              cert => { $T[1] => 'names', $T[2] => 'names' });
cluster_start(\@P);

our @TOwner = cluster_owners($T[0], $Tls);
our @POwner = cluster_owners($P[0]);

# pinIds: 32 hex digits, by number
sub pin { sprintf '%02d%030X', $_[0], $_[1] }

# the first pinIds of series $s whose slots $port serves ($owners: a list
# like @TOwner)
sub pins_on {
    my ($owners, $port, $s, $n) = @_;
    my @pins;
    for my $i (1 .. 5000) {
        my $p = pin($s, $i);
        push @pins, $p if $owners->[ key_slot($p) ] == $port;
        return @pins if @pins == $n;
    }
    die "no $n pinIds of series $s on $port";
}

# resends of the pinIds @$pins in turn (from the first not used yet, shifted
# off) until each of the $n workers has answered $each of them: what each
# answered, as [status, seconds, worker] in order
sub until_each_worker {
    my ($port, $pins, $n, $each) = @_;
    my (%by, @got);

    while (@$pins && (keys %by < $n || grep { $_ < $each } values %by)) {
        my $p = shift @$pins;
        my @r = resend($port, "/2fa/2/pin/$p/resend/voice");
        $by{ $r[2] }++;
        push @got, [@r, $p];
    }

    die "not every worker answered $each resends"
        if keys %by < $n || grep { $_ < $each } values %by;

    return @got;
}

# the zone's tfa_resend_store_errors_total by reason, from /metrics
sub store_errors {
    my ($port, $zone) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect to $port: $!";
    print $s "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n\r\n";

    local $/;
    my $page = <$s> // '';
    close $s;

    return $page =~ /^tfa_resend_store_errors_total\{zone="\Q$zone\E",
                      reason="(\w+)"\}\ (\d+)$/mgx;
}

# keys of zone $zone on each TLS node, by port
sub tls_keys {
    my $zone = shift;
    return map {
        $_ => [ grep { length } split /\n/,
                redis_tls($_, $Tls, 'KEYS', "tfa:$zone:*") ]
    } @T;
}

# ACL users, on every node of the plain cluster (ACL is not shared by a
# cluster's nodes): "tfa" with exactly what the cluster store needs, and a
# user lacking each of two of those rules
our @Rules = ('~tfa:*', 'resetchannels', '-@all', '+eval', '+evalsha',
              '+script|load', '+time', '+zcard', '+zremrangebyscore',
              '+zrange', '+zadd', '+pexpire', '+zrem', '+del',
              '+cluster|slots', '+asking');

for my $port (@P) {
    my %user = (tfa => [@Rules],
                noslots => [ grep { $_ ne '+cluster|slots' } @Rules ],
                noask => [ grep { $_ ne '+asking' } @Rules ]);
    for my $u (sort keys %user) {
        redis($port, 'ACL', 'SETUSER', $u, 'reset', 'on', ">Pass-$u-7c1",
              @{ $user{$u} }) eq 'OK'
            or die "ACL SETUSER $u on $port";
    }
}

our %Pass = map { $_ => secret_file($Dir, "$_.pass", "Pass-$_-7c1\n") }
            qw(tfa noslots noask);

our $Mock = mock_infobip(1980);

our $TlsUrl = "store=rediss-cluster://127.0.0.1:$T[0]";
our $PlainUrl = 'store=redis-cluster://'
                . join(',', map { "127.0.0.1:$_" } @P);

# the TLS zones wait 5s for Redis: under valgrind a worker's first resends
# wait for the slot map and three TLS handshakes, seconds
our $Zone = "tfa_resend_limit_zone zone=tc:1m rate=3/10m redis_timeout=5s "
            . "$TlsUrl redis_ssl_trusted_certificate=$Tls/ca.crt "
            . "redis_ssl_name=redis.test on_store_error=reject;";

our $Gateway2 = gateway_start("$Dir/gw2", 1982, 'tc', $Zone);


# CLUSTER SLOTS names each master by its TLS port (there is no other)
{
    my $slots = redis_tls($T[0], $Tls, 'CLUSTER', 'SLOTS');
    my %ports = map { $_ => 1 } split /\n/, $slots;
    is(scalar(grep { $ports{$_} } @T), 3,
       'CLUSTER SLOTS of the TLS cluster names its three TLS ports');
    is(scalar(grep { $_ } map { my $p = $_; grep { $_ == $p } @TOwner } @T),
       16384, 'the TLS cluster serves every slot');
}


run_tests();

__DATA__

=== TEST 1: rediss-cluster://, one seed: 24 pinIds, 6 concurrent resends each over two gateways: exactly 3 admitted of each, the keys on all three masters, over TLS
The seed is the first node; the others are known by CLUSTER SLOTS only,
and speak nothing but TLS.
--- http_config eval
"$::Zone\n$::Mock" . <<'_EOC_';
    server {
        listen 127.0.0.1:1981 reuseport;

        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "user:pass";
            tfa_resend_limit zone=tc;
            proxy_pass http://127.0.0.1:1980;
        }
    }
_EOC_
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=tc;
        proxy_pass http://127.0.0.1:1980;
    }
--- init
::wait_port($_) for 1981, 1982;
my @pins = map { ::pin(91, $_) } 1 .. 24;
my @paths = map { my $p = $_; map { "/2fa/2/pin/$p/resend/voice" } 1 .. 6 } @pins;
my $seen = ::burst([1981, 1982], \@paths, scalar @paths);
Test::More::is($seen, '200 x72, 429 x72', "TEST 1: 144 concurrent resends of 24 pinIds over TLS: 3 admitted of each ($seen)");
my %keys = ::tls_keys('tc');
my @wrong;
for my $p (@pins) {
    my $owner = $::TOwner[ ::key_slot($p) ];
    push @wrong, $p unless grep { $_ eq "tfa:tc:{$p}" } @{ $keys{$owner} };
}
Test::More::is("@wrong", '', 'TEST 1: each pinId\'s key on the master of its slot');
Test::More::is(scalar(grep { @{ $keys{$_} } > 0 } @::T), 3, 'TEST 1: every master holds keys');
@wrong = grep {
    ::redis_tls($::TOwner[ ::key_slot($_) ], $::Tls, 'ZCARD', "tfa:tc:{$_}") != 3
} @pins[0 .. 5];
Test::More::is("@wrong", '', 'TEST 1: 3 admissions counted (6 pinIds looked at)');
--- request
POST /2fa/2/pin/91000000000000000000000000000001/resend/voice
--- error_code: 429
--- no_error_log
[alert]
[crit]
redis at



=== TEST 2: rediss-cluster:// that fails verification: a wrong CA, a wrong name; a node known by CLUSTER SLOTS is verified by its own address; on_store_error decides, logged, nothing written
Zones: wr (another CA, reject), wl (another CA, local), wn (redis_ssl_name
a name no certificate has), ip (the right CA, no redis_ssl_name: each node
is verified by the address it has, the seed's 127.0.0.1 in its
certificate, the other two nodes' not).
--- http_config eval
"tfa_resend_limit_zone zone=wr:1m rate=3/10m redis_timeout=5s $::TlsUrl redis_ssl_trusted_certificate=$::Tls/other-ca.crt on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=wl:1m rate=3/10m redis_timeout=5s $::TlsUrl redis_ssl_trusted_certificate=$::Tls/other-ca.crt on_store_error=local;\n"
. "tfa_resend_limit_zone zone=wn:1m rate=3/10m redis_timeout=5s $::TlsUrl redis_ssl_trusted_certificate=$::Tls/ca.crt redis_ssl_name=wrong.example on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=ip:1m rate=3/10m redis_timeout=5s $::TlsUrl redis_ssl_trusted_certificate=$::Tls/ca.crt on_store_error=reject;\n"
. "$::Mock"
--- config
    location /wr/ {
        rewrite ^/wr(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=wr;
        proxy_pass http://127.0.0.1:1980;
    }

    location /wl/ {
        rewrite ^/wl(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=wl;
        proxy_pass http://127.0.0.1:1980;
    }

    location /wn/ {
        rewrite ^/wn(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=wn;
        proxy_pass http://127.0.0.1:1980;
    }

    location /ip/ {
        rewrite ^/ip(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=ip;
        proxy_pass http://127.0.0.1:1980;
    }
--- init
::wait_port($ServerPort);
my $p = ::pin(92, 1);
my @s = map { scalar ::resend($ServerPort, "/wr/2fa/2/pin/$p/resend/voice") } 1 .. 2;
Test::More::is("@s", '503 503', 'TEST 2: another CA, on_store_error=reject: 503');
@s = map { scalar ::resend($ServerPort, "/wl/2fa/2/pin/$p/resend/voice") } 1 .. 5;
Test::More::is("@s", '200 200 200 429 429', 'TEST 2: another CA, on_store_error=local: this server\'s window, 3 admitted');
@s = map { scalar ::resend($ServerPort, "/wn/2fa/2/pin/$p/resend/voice") } 1 .. 2;
Test::More::is("@s", '503 503', 'TEST 2: redis_ssl_name=wrong.example: 503');
my ($on0) = ::pins_on(\@::TOwner, $::T[0], 93, 1);
my ($on1) = ::pins_on(\@::TOwner, $::T[1], 93, 1);
my ($on2) = ::pins_on(\@::TOwner, $::T[2], 93, 1);
@s = map { scalar ::resend($ServerPort, "/ip/2fa/2/pin/$_/resend/voice") } $on0, $on1, $on2;
Test::More::is("@s", '200 503 503', 'TEST 2: no redis_ssl_name: the seed (127.0.0.1 in its certificate) admits, the nodes whose certificates do not name 127.0.0.1 are store errors');
Test::More::is(::redis_tls($::T[0], $::Tls, 'ZCARD', "tfa:ip:{$on0}"), 1, 'TEST 2: ... counted on the seed');
my @written;
for my $z (qw(wr wl wn ip)) {
    my %k = ::tls_keys($z);
    push @written, grep { $_ ne "tfa:ip:{$on0}" } map { @$_ } values %k;
}
Test::More::is("@written", '', 'TEST 2: nothing written by the zones whose TLS failed');
--- request
POST /wr/2fa/2/pin/92000000000000000000000000000002/resend/voice
--- error_code: 503
--- error_log eval
[
qr/\[error\] .*tfa_resend_limit_zone "wr": redis at cluster 127\.0\.0\.1:\d+ node 127\.0\.0\.1:\d+ sent a certificate that failed verification: \(\d+: [^)]+\); on_store_error=reject: resends are refused with 503/,
qr/\[error\] .*tfa_resend_limit_zone "wl": redis at cluster 127\.0\.0\.1:\d+ node 127\.0\.0\.1:\d+ sent a certificate that failed verification[^;]*; on_store_error=local: this server's own window decides/,
qr/\[error\] .*tfa_resend_limit_zone "wn": redis at cluster 127\.0\.0\.1:\d+ node 127\.0\.0\.1:\d+ sent a certificate that does not match "wrong\.example"; on_store_error=reject/,
qr/\[error\] .*tfa_resend_limit_zone "ip": redis at cluster 127\.0\.0\.1:$::T[0] node 127\.0\.0\.1:(?:$::T[1]|$::T[2]) sent a certificate that does not match "127\.0\.0\.1"; on_store_error=reject/,
]
--- no_error_log
[alert]
[crit]



=== TEST 3: an ACL user with exactly the cluster store's rules: admissions, a refund, a slot being moved (ASK, ASKING); users lacking +cluster|slots or +asking: a clear error line, on_store_error decides, nothing written
Zones: ua (user "tfa", the rules of docs/redis-store.md), ns (no
+cluster|slots), na (no +asking); each with on_store_error=reject.
--- http_config eval
"tfa_resend_limit_zone zone=ua:1m rate=3/10m redis_timeout=1s $::PlainUrl redis_username=tfa redis_password_file=$::Pass{tfa} on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=ns:1m rate=3/10m redis_timeout=1s $::PlainUrl redis_username=noslots redis_password_file=$::Pass{noslots} on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=na:1m rate=3/10m redis_timeout=1s $::PlainUrl redis_username=noask redis_password_file=$::Pass{noask} on_store_error=reject;\n"
. "$::Mock"
--- config
    location /ua/ {
        rewrite ^/ua(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_pass_header X-Mock-Status;
        tfa_resend_limit zone=ua;
        tfa_resend_limit_refund on;
        proxy_pass http://127.0.0.1:1980;
    }

    location /ns/ {
        rewrite ^/ns(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=ns;
        proxy_pass http://127.0.0.1:1980;
    }

    location /na/ {
        rewrite ^/na(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=na;
        proxy_pass http://127.0.0.1:1980;
    }
--- init
::wait_port($ServerPort);
my @pins = map { ::pins_on(\@::POwner, $_, 97, 1) } @::P;
my $seen = ::burst($ServerPort, [ map { my $p = $_; map { "/ua/2fa/2/pin/$p/resend/voice" } 1 .. 5 } @pins ], 15);
Test::More::is($seen, '200 x9, 429 x6', "TEST 3: user tfa: 3 of 5 concurrent resends of a pinId on each master ($seen)");
my @wrong = grep { ::redis($::POwner[ ::key_slot($_) ], 'ZCARD', "tfa:ua:{$_}") != 3 } @pins;
Test::More::is("@wrong", '', 'TEST 3: ... counted 3 times each on its master');
# a refund (EVAL, ZREM, DEL) by the same user
my ($r) = ::pins_on(\@::POwner, $::P[1], 98, 1);
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ServerPort, Proto => 'tcp') or die "connect: $!";
print $s "POST /ua/2fa/2/pin/$r/resend/voice HTTP/1.1\r\nHost: localhost\r\nX-Mock-Status: 500\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
my $answer = do { local $/; <$s> };
close $s;
Test::More::like($answer, qr{^HTTP/1\.1 500 }, 'TEST 3: user tfa: a resend the upstream failed');
my $left;
for (1 .. 40) {
    $left = ::redis($::P[1], 'EXISTS', "tfa:ua:{$r}");
    last if $left == 0;
    Time::HiRes::sleep(0.05);
}
Test::More::is($left, 0, 'TEST 3: ... refunded: its key is gone');
# a slot being moved from its master A to B: a pinId with no key yet is
# asked on B (ASK, then ASKING and the script there)
my ($q) = ::pins_on(\@::POwner, $::P[0], 99, 1);
my $slot = ::key_slot($q);
my ($A, $B) = @::P[0, 1];
my %id = map { $_ => ::redis($_, 'CLUSTER', 'MYID') } $A, $B;
Test::More::is(::redis($B, 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $id{$A}), 'OK', 'TEST 3: IMPORTING');
Test::More::is(::redis($A, 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $id{$B}), 'OK', 'TEST 3: MIGRATING');
my @s = map { scalar ::resend($ServerPort, "/ua/2fa/2/pin/$q/resend/voice") } 1 .. 2;
Test::More::is("@s", '200 200', 'TEST 3: user tfa: admitted through ASK');
$s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $B, Proto => 'tcp') or die "connect: $!";
print {$s} ::resp('ASKING'), ::resp('ZCARD', "tfa:ua:{$q}");
::read_reply($s);
Test::More::is(::read_reply($s), 2, 'TEST 3: ... counted on the importing master');
close $s;
@s = map { scalar ::resend($ServerPort, "/na/2fa/2/pin/$q/resend/voice") } 1 .. 2;
Test::More::is("@s", '503 503', 'TEST 3: user noask (no +asking): on_store_error=reject');
::redis($_, 'CLUSTER', 'SETSLOT', $slot, 'STABLE') for $A, $B;
@s = map { scalar ::resend($ServerPort, "/ns/2fa/2/pin/$_/resend/voice") } @pins;
Test::More::is("@s", '503 503 503', 'TEST 3: user noslots (no +cluster|slots): on_store_error=reject');
my @written = map { @{ ::redis($_, 'KEYS', 'tfa:n[sa]:*') } } @::P;
Test::More::is("@written", '', 'TEST 3: nothing written by the users lacking a rule');
--- request
POST /ns/2fa/2/pin/97000000000000000000000000000001/resend/voice
--- error_code: 503
--- error_log eval
[
qr/\[error\] .*tfa_resend_limit_zone "ns": redis at cluster [^;]+ node 127\.0\.0\.1:\d+ answered CLUSTER SLOTS with "NOPERM [^"]*cluster\|slots[^"]*"; on_store_error=reject: resends are refused with 503/,
qr/\[error\] .*tfa_resend_limit_zone "na": redis at cluster [^;]+ node 127\.0\.0\.1:\d+ refused ASKING: "NOPERM [^"]*asking[^"]*"; on_store_error=reject: resends are refused with 503/,
]
--- no_error_log
[alert]
[crit]
Pass-tfa-7c1
Pass-noslots-7c1
Pass-noask-7c1



=== TEST 4: a master stopped (SIGSTOP), its connections open: the first resends of its pinIds wait redis_timeout, the next ones are decided at once by on_store_error, logged; the other masters' pinIds counted exactly; going on (SIGCONT), it decides again by itself, its counts intact, nothing past N
--- http_config eval
"tfa_resend_limit_zone zone=st:1m rate=3/10m redis_timeout=1s $::PlainUrl on_store_error=reject;\n"
. "$::Mock"
--- config
    # a socket of each worker's own: connections one after another are
    # spread over the workers by the kernel, not left to whichever wakes
    listen 127.0.0.1:1983 reuseport;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=st;
        add_header X-Worker $pid always;
        proxy_pass http://127.0.0.1:1980;
    }

    location = /metrics {
        tfa_resend_metrics;
    }
--- init
::wait_port($ServerPort);
my $S = $::P[0];    # the first seed, asked for the map first
my $slack = $ENV{TEST_NGINX_USE_VALGRIND} ? 5 : 1;
# well under redis_timeout (1s), even under valgrind
my $fast = $ENV{TEST_NGINX_USE_VALGRIND} ? 0.5 : 0.25;
my ($used, @stalled) = ::pins_on(\@::POwner, $S, 90, 40);
my @other = map { ::pins_on(\@::POwner, $_, 89, 2) } @::P[1, 2];
# every worker has a link to every master
::burst($ServerPort, [ map { "/2fa/2/pin/$_/resend/voice" } map { ::pins_on(\@::POwner, $_, 88, 4) } @::P ], 12);
Test::More::is(scalar ::resend($ServerPort, "/2fa/2/pin/$used/resend/voice"), 200, 'TEST 4: a pinId of the master counted once');
my %errors0 = ::store_errors($ServerPort, 'st');
::redis_pause($S, 1);
my $t0 = Time::HiRes::time();
my @sent = ($used, splice @stalled, 0, 5);
my $seen = ::burst($ServerPort, [ map { "/2fa/2/pin/$_/resend/voice" } @sent ], 6);
my $took = Time::HiRes::time() - $t0;
Test::More::is($seen, '503 x6', "TEST 4: the stopped master's pinIds: 503 ($seen)");
Test::More::cmp_ok($took, '>=', 0.9, sprintf 'TEST 4: ... after waiting redis_timeout (1s): %.2fs', $took);
Test::More::cmp_ok($took, '<', 1 + $slack, 'TEST 4: ... not longer');
# each worker's next resends to it: at once (a worker that had none of
# those six waits redis_timeout once)
my @got = ::until_each_worker(1983, \@stalled, 2, 3);
push @sent, map { $_->[3] } @got;
my (%n, @wrong);
for my $g (@got) {
    my ($st, $secs, $w) = @$g;
    push @wrong, sprintf '%s %.2fs', $st, $secs
        if $st != 503 || $secs >= 1 + $slack || ($n{$w}++ && $secs >= $fast);
}
Test::More::is("@wrong", '', sprintf 'TEST 4: %d more resends: 503, each worker\'s after its first in under %.2fs (%s)', scalar @got, $fast, join ' ', map { sprintf '%.2f', $_->[1] } @got);
$seen = ::burst($ServerPort, [ map { my $p = $_; map { "/2fa/2/pin/$p/resend/voice" } 1 .. 5 } @other ], 20);
Test::More::is($seen, '200 x12, 429 x8', "TEST 4: the other masters' pinIds: 3 of 5 admitted each ($seen)");
@wrong = grep { ::redis($::POwner[ ::key_slot($_) ], 'ZCARD', "tfa:st:{$_}") != 3 } @other;
Test::More::is("@wrong", '', 'TEST 4: ... counted 3 times each');
# past the map's refresh (once a second, not of the stopped seed), still
# stopped, within the cutoff (10 x redis_timeout)
Time::HiRes::sleep(1.1);
@got = ::until_each_worker(1983, \@stalled, 2, 1);
push @sent, map { $_->[3] } @got;
@wrong = map { sprintf '%s %.2fs', @$_[0, 1] } grep { $_->[0] != 503 || $_->[1] >= $fast } @got;
Test::More::is("@wrong", '', 'TEST 4: a second later, each worker: 503 at once');
my ($fresh) = ::pins_on(\@::POwner, $::P[2], 87, 1);
Test::More::is(scalar ::resend($ServerPort, "/2fa/2/pin/$fresh/resend/voice"), 200, 'TEST 4: ... and another master\'s pinId admitted');
::redis_pause($S, 0);
# the late admissions of the resends refused are taken back; the resends
# decided at once were never sent
my $want = '1 ' . ('0' x $#sent);
my $n;
for (1 .. 100) {
    $n = ::redis($S, 'ZCARD', "tfa:st:{$used}") . ' '
         . join '', map { ::redis($S, 'EXISTS', "tfa:st:{$_}") } @sent[1 .. $#sent];
    last if $n eq $want;
    Time::HiRes::sleep(0.05);
}
Test::More::is($n, $want, 'TEST 4: going on: its counts as before the stop (the late admissions taken back)');
my ($status, $tries, $refused) = (0, 0, 0);
while ($status != 200 && $tries < 100) {
    $status = ::resend($ServerPort, "/2fa/2/pin/$stalled[-1]/resend/voice");
    $tries++;
    $refused++ if $status == 503;
    Time::HiRes::sleep(0.05) unless $status == 200;
}
Test::More::is($status, 200, "TEST 4: it decides again by itself ($tries tries)");
# every resend refused, waiting or not, is a store error for no answer
my %errors = ::store_errors($ServerPort, 'st');
Test::More::is(sprintf('timeout %d, connect %d', $errors{timeout} - $errors0{timeout}, $errors{connect} - $errors0{connect}), sprintf('timeout %d, connect 0', $#sent + 1 + $refused), 'TEST 4: ... each refused resend counted as a store timeout');
@got = ::until_each_worker(1983, [ ::pins_on(\@::POwner, $S, 86, 20) ], 2, 1);
@wrong = map { sprintf '%s %.2fs', @$_[0, 1] } grep { $_->[0] != 200 } @got;
Test::More::is("@wrong", '', 'TEST 4: ... in each worker');
$seen = ::burst($ServerPort, "/2fa/2/pin/$used/resend/voice", 6);
Test::More::is($seen, '200 x2, 429 x4', "TEST 4: the pinId counted once before: 2 more admitted, no more ($seen)");
Test::More::is(::redis($S, 'ZCARD', "tfa:st:{$used}"), 3, 'TEST 4: ... counted 3 times');
--- request
POST /2fa/2/pin/90000000000000000000000000000001/resend/voice
--- error_code: 200
--- error_log eval
[
qr/\[error\] .*tfa_resend_limit_zone "st": redis at cluster [^;]+ node 127\.0\.0\.1:$::P[0] did not answer within redis_timeout \(1000ms\); on_store_error=reject: resends are refused with 503/,
qr/\[error\] .*tfa_resend_limit_zone "st": redis at cluster [^;]+ node 127\.0\.0\.1:$::P[0] has not answered for \d+ ms \(redis_timeout=1000ms\); on_store_error=reject: resends are refused with 503/,
qr/\[info\] .*tfa_resend_limit_zone "st": redis admitted "tfa:st:\{90[0-9A-F]{30}\}" after the resend was decided without it: taken back/,
]
--- no_error_log
[alert]
[crit]
connecting again






=== TEST 5: a master stopped past the cutoff (10 x redis_timeout): its link is dropped (logged), the map asked again, the link made again when needed; going on (SIGCONT), it decides again by itself, its counts intact, nothing past N
--- http_config eval
"tfa_resend_limit_zone zone=lt:1m rate=3/10m redis_timeout=500ms $::PlainUrl on_store_error=reject;\n"
. "$::Mock"
--- config
    # a socket of each worker's own: connections one after another are
    # spread over the workers by the kernel, not left to whichever wakes
    listen 127.0.0.1:1983 reuseport;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=lt;
        add_header X-Worker $pid always;
        proxy_pass http://127.0.0.1:1980;
    }
--- init
::wait_port($ServerPort);
my $M = $::P[1];
my ($used, @pins) = ::pins_on(\@::POwner, $M, 85, 40);
# every worker has a link to every master
::burst($ServerPort, [ map { "/2fa/2/pin/$_/resend/voice" } map { ::pins_on(\@::POwner, $_, 84, 4) } @::P ], 12);
Test::More::is(scalar ::resend($ServerPort, "/2fa/2/pin/$used/resend/voice"), 200, 'TEST 5: a pinId of the master counted once');
::redis_pause($M, 1);
my $t0 = Time::HiRes::time();
my @sent = splice @pins, 0, 4;
my $seen = ::burst($ServerPort, [ map { "/2fa/2/pin/$_/resend/voice" } @sent ], 4);
Test::More::is($seen, '503 x4', "TEST 5: the stopped master's pinIds: 503 ($seen)");
# each worker has had a command time out on its link (its first resend
# here waits, if none of the four went to it)
my @got = ::until_each_worker(1983, \@pins, 2, 2);
push @sent, map { $_->[3] } @got;
my @wrong = map { $_->[0] } grep { $_->[0] != 503 } @got;
Test::More::is("@wrong", '', 'TEST 5: ... in each worker: 503');
my ($st, $secs) = ::resend($ServerPort, "/2fa/2/pin/$used/resend/voice");
Test::More::is($st, 503, sprintf 'TEST 5: the pinId counted before: 503 at once, never sent (%.2fs)', $secs);
# past the cutoff, 5 s after each worker's command timed out
my $left = 7 - (Time::HiRes::time() - $t0);
Time::HiRes::sleep($left) if $left > 0;
@got = ::until_each_worker(1983, \@pins, 2, 2);
push @sent, map { $_->[3] } @got;
@wrong = map { $_->[0] } grep { $_->[0] != 503 } @got;
Test::More::is("@wrong", '', 'TEST 5: past the cutoff, each worker: 503, its link dropped');
::redis_pause($M, 0);
my ($status, $tries) = (0, 0);
my @fresh = ::pins_on(\@::POwner, $M, 83, 30);
while ($status != 200 && $tries < 100) {
    $status = ::resend($ServerPort, "/2fa/2/pin/$fresh[0]/resend/voice");
    $tries++;
    Time::HiRes::sleep(0.05) unless $status == 200;
}
Test::More::is($status, 200, "TEST 5: going on, it decides again by itself ($tries tries)");
@got = ::until_each_worker(1983, [ @fresh[1 .. $#fresh] ], 2, 1);
@wrong = map { $_->[0] } grep { $_->[0] != 200 } @got;
Test::More::is("@wrong", '', 'TEST 5: ... in each worker, on a link made again');
$seen = ::burst($ServerPort, "/2fa/2/pin/$used/resend/voice", 6);
Test::More::is($seen, '200 x2, 429 x4', "TEST 5: the pinId counted once before: 2 more admitted, no more ($seen)");
Test::More::is(::redis($M, 'ZCARD', "tfa:lt:{$used}"), 3, 'TEST 5: ... counted 3 times');
# a command dropped with its link may still run when the master goes on,
# its admission then past taking back (as on a plain Redis): never more
Time::HiRes::sleep(0.3);
my %before = map { $_ => ::redis($M, 'ZCARD', "tfa:lt:{$_}") } @sent;
@wrong = grep { $before{$_} > 1 } @sent;
Test::More::is("@wrong", '', 'TEST 5: the resends refused during the stop: counted once at most');
my $want = 0;
$want += 3 - $before{$_} for @sent;
$seen = ::burst($ServerPort, [ map { my $p = $_; map { "/2fa/2/pin/$p/resend/voice" } 1 .. 4 } @sent ], 4 * @sent);
my ($admitted) = $seen =~ /200 x(\d+)/;
Test::More::is($admitted // 0, $want, "TEST 5: ... then exactly up to 3 each ($seen)");
@wrong = grep { ::redis($M, 'ZCARD', "tfa:lt:{$_}") != 3 } @sent;
Test::More::is("@wrong", '', 'TEST 5: ... counted 3 times each, nothing past N');
--- request
POST /2fa/2/pin/85000000000000000000000000000001/resend/voice
--- error_code: 200
--- error_log eval
[
qr/\[error\] .*tfa_resend_limit_zone "lt": redis at cluster [^;]+ node 127\.0\.0\.1:$::P[1] did not answer within redis_timeout \(500ms\); on_store_error=reject/,
qr/\[warn\] .*tfa_resend_limit_zone "lt": redis cluster node 127\.0\.0\.1:$::P[1] has not answered for \d+ ms: connecting again; the slot map is asked again/,
]
--- no_error_log
[alert]
[crit]
