# The Redis store of the resend limiter on a Redis Cluster
# (store=redis-cluster://): the keys carry the pinId as their hash tag and
# spread over the masters; exactly N admissions per pinId for many
# concurrent resends of many pinIds on two gateways; a slot moved by hand
# under traffic (MIGRATING/IMPORTING, ASK, MIGRATE, MOVED) keeps its
# counts; redis-cli --cluster reshard moves 1000 slots while resends of
# their pinIds go on; a master failover (CLUSTER FAILOVER on its replica,
# then a master stopped) is followed, on_store_error deciding during the
# gap.
#
# Three masters and a replica each (Debian's redis-server, cluster mode,
# made by redis-cli --cluster create) are started by this file on free
# loopback ports and stopped after the tests.  The mock Infobip API (port
# 1980) answers the resends let through.  A second gateway nginx (port
# 1982, 2 workers) with the same zone runs beside the tested one (1981,
# 2 workers).
#
# The blocks are one chain on one nginx: TEST 1 starts it, the others (no
# --- config) go on with it.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use File::Temp qw(tempdir);
use Time::HiRes ();
use POSIX ();

master_on();
workers(2);
worker_connections(512);
no_shuffle();


our $Dir = tempdir(CLEANUP => 1);

our @Masters;
push @Masters, free_port(@Masters) for 1 .. 3;
our @Replicas;
push @Replicas, free_port(@Masters, @Replicas) for 1 .. 3;

# each node's cluster bus on a free port of its own, kept across restarts
# (the default, port + 10000, may be taken or past 65535)
our %Bus;

sub node_start {
    my $port = shift;
    $Bus{$port} //= free_port(@Masters, @Replicas, values %Bus);
    redis_start($port, '--cluster-enabled', 'yes',
                '--cluster-config-file', "nodes-$port.conf",
                '--cluster-port', $Bus{$port},
                '--cluster-node-timeout', '1000');
}

node_start($_) for @Masters, @Replicas;

{
    my $out = `redis-cli --cluster create @{[ map { "127.0.0.1:$_" } @Masters ]} --cluster-yes 2>&1`;
    die "redis-cli --cluster create failed:\n$out" if $? != 0;
}

our %Id = map { $_ => ::redis($_, 'CLUSTER', 'MYID') } @Masters, @Replicas;

for my $i (0 .. 2) {
    my $out = `redis-cli --cluster add-node 127.0.0.1:$Replicas[$i] 127.0.0.1:$Masters[$i] --cluster-slave --cluster-master-id $Id{$Masters[$i]} 2>&1`;
    die "redis-cli --cluster add-node failed:\n$out" if $? != 0;
}

# until every node says the cluster is ok and every replica is in sync
for my $i (1 .. 300) {
    my $ok = grep {
        (eval { ::redis($_, 'CLUSTER', 'INFO') } // '') =~ /cluster_state:ok/
    } @Masters, @Replicas;
    my $sync = grep {
        (eval { ::redis($_, 'INFO', 'replication') } // '')
            =~ /master_link_status:up/
    } @Replicas;
    last if $ok == 6 && $sync == 3;
    die "the cluster did not come up in 30s" if $i == 300;
    Time::HiRes::sleep(0.1);
}

# a pinId's slot: the key's hash tag is the pinId
sub slot_of { key_slot(shift) }

# the port of the master serving $slot, as a node of the cluster sees it
sub owner {
    my ($slot, @ask) = @_;
    for my $port (@ask ? @ask : (@Masters, @Replicas)) {
        my $r = eval { ::redis($port, 'CLUSTER', 'SLOTS') };
        next unless ref $r;
        for my $range (@$r) {
            return $range->[2][1]
                if $slot >= $range->[0] && $slot <= $range->[1];
        }
    }
    return 0;
}

# admissions of $pin counted where its slot is served, within 5s
sub count_of {
    my ($pin, $n) = @_;
    my $c;
    for (1 .. 100) {
        my $port = owner(slot_of($pin));
        $c = eval { ::redis($port, 'ZCARD', "tfa:cl:{$pin}") } // -1;
        return $c if $c == $n;
        Time::HiRes::sleep(0.05);
    }
    return $c;
}

# a command to a node of a slot being imported or migrated, after ASKING
sub asking {
    my ($port, @cmd) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return "ERR connect: $!";
    print $s resp('ASKING'), resp(@cmd);
    read_reply($s);
    my $r = read_reply($s);
    close $s;
    return $r;
}

# forwarded resends of $pin, as the mock counted them: until they are $n,
# 2s at most (the mock's worker logs a call after the gateway has its
# answer, maybe after the client has)
sub mock_count {
    my ($pin, $n) = @_;
    my $c;
    for (1 .. 40) {
        $c = ::count_lines(Test::Nginx::Util::server_root()
                           . '/logs/mock.log', qr/^\Q$pin\E 200$/);
        return $c if !defined $n || $c == $n;
        Time::HiRes::sleep(0.05);
    }
    return $c;
}

our $Url = 'store=redis-cluster://'
           . join(',', map { "127.0.0.1:$_" } @Masters);

our $Zone = "tfa_resend_limit_zone zone=cl:1m rate=3/10m redis_timeout=1s "
            . "$Url on_store_error=reject;";

our $Mock = mock_infobip(1980);
our $Gateway2 = gateway_start("$Dir/gw2", 1982, 'cl', $Zone);

our $Probe = 0;

# pinIds: 32 hex digits, by number
sub pin { sprintf '%02d%030X', $_[0], $_[1] }


# ---- configuration: nginx -t ---------------------------------------------

my $z = 'tfa_resend_limit_zone zone=z:1m rate=3/10m';

my @bad = (
    [ "$z store=redis-cluster://127.0.0.1:7000/0;",
      qr/invalid store "store=redis-cluster:\/\/127.0.0.1:7000\/0": a cluster has only database 0/ ],
    [ "$z store=redis-cluster://127.0.0.1:7000,,127.0.0.1:7001;",
      qr/invalid store "store=redis-cluster:\/\/127.0.0.1:7000,,127.0.0.1:7001": an empty node/ ],
    [ "$z store=redis-cluster://127.0.0.1:99999;",
      qr/node "127.0.0.1:99999": invalid port/ ],
    [ "$z store=redis-cluster://u:p\@127.0.0.1:7000;",
      qr/no user or password in the URL/ ],
    [ "$z store=redis-cluster://127.0.0.1:7000 redis_ssl_verify=off;",
      qr/invalid parameter "redis_ssl_verify=off": only with store=rediss:\/\// ],
    [ "$z store=redis-clusterx://127.0.0.1:7000;",
      qr/invalid store .* or store=redis-cluster:\/\/HOST:PORT\[,HOST:PORT...\] or store=rediss-cluster:\/\/HOST:PORT\[,HOST:PORT...\]/ ],
);

for my $t (@bad) {
    my ($conf, $re) = @$t;
    my ($rc, $out) = nginx_t($conf);
    isnt($rc, 0, "nginx -t fails: $conf");
    like($out, qr/\[emerg\] .*$re/, "a clear [emerg]: $conf") or diag($out);
}

{
    my $empty = secret_file($Dir, 'empty.pass', '');
    my ($rc, $out) = nginx_t(qq{
        $z $Url redis_timeout=250ms on_store_error=local
            redis_password_file=$empty;
        tfa_resend_limit_zone zone=b:1m rate=3/10m
            store=rediss-cluster://127.0.0.1:1,[::1]:2,localhost
            redis_ssl_verify=off;
        tfa_resend_limit zone=z;
    });
    like($out, qr/redis_password_file "\Q$empty\E" is empty/,
         'the cluster store reads redis_password_file=') or diag($out);

    ($rc, $out) = nginx_t(qq{
        $z $Url redis_timeout=250ms on_store_error=local;
        tfa_resend_limit_zone zone=b:1m rate=3/10m
            store=rediss-cluster://127.0.0.1:1,[::1]:2,localhost
            redis_ssl_verify=off;
        tfa_resend_limit zone=z;
    });
    is($rc, 0, 'every cluster parameter is accepted') or diag($out);
}

# the hash tag: Redis puts tfa:cl:{PIN} in the slot of PIN
is(::redis($Masters[0], 'CLUSTER', 'KEYSLOT', 'tfa:cl:{' . pin(80, 1) . '}'),
   slot_of(pin(80, 1)), 'the key "tfa:ZONE:{PINID}" is in the slot of PINID');


run_tests();

__DATA__

=== TEST 1: 24 pinIds, 6 concurrent resends each over two gateways: exactly 3 admissions of each; the keys on all three masters
A chain on one nginx: this block starts it; TEST 2 to 5 (no --- config) go on with it.
--- http_config eval
"$::Zone\n$::Mock" . <<'_EOC_';
    server {
        listen 127.0.0.1:1981 reuseport;

        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "user:pass";
            tfa_resend_limit zone=cl;
            proxy_pass http://127.0.0.1:1980;
        }
    }
_EOC_
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=cl;
        proxy_pass http://127.0.0.1:1980;
    }
--- init
::wait_port($_) for 1981, 1982;
my @pins = map { ::pin(81, $_) } 1 .. 24;
my @paths = map { my $p = $_; map { "/2fa/2/pin/$p/resend/voice" } 1 .. 6 } @pins;
my $seen = ::burst([1981, 1982], \@paths, scalar @paths);
Test::More::is($seen, '200 x72, 429 x72', "TEST 1: 144 concurrent resends of 24 pinIds: 3 admitted of each ($seen)");
my @wrong = grep { ::mock_count($_, 3) != 3 } @pins;
Test::More::is("@wrong", '', 'TEST 1: the mock got exactly 3 resends of each pinId');
@wrong = grep { ::count_of($_, 3) != 3 } @pins;
Test::More::is("@wrong", '', 'TEST 1: each pinId counted 3 times on the master of its slot');
my %on = map { ::owner(::slot_of($_)) => 1 } @pins;
Test::More::is(scalar(grep { $on{$_} } @::Masters), 3, 'TEST 1: the pinIds are on all three masters');
Test::More::is(scalar(grep { (::redis($_, 'DBSIZE') // 0) > 0 } @::Masters), 3,
               'TEST 1: ... and every master holds keys');
--- request
POST /2fa/2/pin/81000000000000000000000000000001/resend/voice
--- error_code: 429
--- no_error_log
[alert]
[crit]
redis at



=== TEST 2: a slot moved by hand under traffic: ASK while it migrates, MOVED after; counts kept, nothing past N
--- init
my $p = ::pin(82, 1);
my $slot = ::slot_of($p);
my $from = ::owner($slot);
my ($to) = grep { $_ != $from } @::Masters;
# a second pinId in the same slot, no key of it yet
my $n = 2;
$n++ while ::slot_of(::pin(82, $n)) != $slot;
my $q = ::pin(82, $n);
my @s = map { scalar ::resend($_, "/2fa/2/pin/$p/resend/voice") } 1981;
Test::More::is("@s", '200', 'TEST 2: pin P admitted once before the move');
Test::More::is(::redis($to, 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $::Id{$from}), 'OK', 'TEST 2: IMPORTING');
Test::More::is(::redis($from, 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $::Id{$to}), 'OK', 'TEST 2: MIGRATING');
# P's key is still on the old master: it decides; Q has no key there: ASK
@s = map { scalar ::resend($_, "/2fa/2/pin/$p/resend/voice") } 1982;
Test::More::is("@s", '200', 'TEST 2: pin P admitted again while its slot migrates (its key still there)');
my $seen = ::burst([1981, 1982], "/2fa/2/pin/$q/resend/voice", 2);
Test::More::is($seen, '200 x2', "TEST 2: pin Q, new, admitted twice through ASK ($seen)");
Test::More::is(::asking($to, 'ZCARD', "tfa:cl:{$q}"), 2, 'TEST 2: ... counted on the importing master');
Test::More::like(::redis($from, 'EXISTS', "tfa:cl:{$q}"), qr/^ERR ASK /, 'TEST 2: ... not on the migrating one (it answers ASK)');
Test::More::is(::redis($from, 'MIGRATE', '127.0.0.1', $to, '', 0, 5000, 'KEYS', "tfa:cl:{$p}"), 'OK',
               'TEST 2: P migrated');
$seen = ::burst([1981, 1982], ["/2fa/2/pin/$p/resend/voice", "/2fa/2/pin/$q/resend/voice"], 8);
Test::More::is($seen, '200 x2, 429 x6', "TEST 2: 8 concurrent resends of P and Q through ASK: the third of each admitted, no more ($seen)");
# the importing master first: the migrating one then sends MOVED to it
for my $port ($to, $from, grep { $_ != $to && $_ != $from } @::Masters) {
    ::redis($port, 'CLUSTER', 'SETSLOT', $slot, 'NODE', $::Id{$to});
}
Test::More::is(::owner($slot, $from), $to, 'TEST 2: the slot moved');
$seen = ::burst([1981, 1982], ["/2fa/2/pin/$p/resend/voice", "/2fa/2/pin/$q/resend/voice"], 8);
Test::More::is($seen, '429 x8', "TEST 2: after the move (MOVED): P and Q refused ($seen)");
Test::More::is(::redis($to, 'ZCARD', "tfa:cl:{$p}"), 3, 'TEST 2: P counted 3 times on its new master');
Test::More::is(::redis($to, 'ZCARD', "tfa:cl:{$q}"), 3, 'TEST 2: Q counted 3 times on its new master');
Test::More::is(::mock_count($p, 3) . ' ' . ::mock_count($q, 3), '3 3', 'TEST 2: the mock got 3 resends of each');
my $r = ::pin(82, 99);
Test::More::is(scalar ::resend(1982, "/2fa/2/pin/$r/resend/voice"), 200, 'TEST 2: a new pinId after the move');
--- request
POST /2fa/2/pin/81000000000000000000000000000002/resend/voice
--- error_code: 429
--- no_error_log
[alert]
[crit]
redis at



=== TEST 3: CLUSTER FAILOVER on a replica: both gateways follow (MOVED), the counts are kept, no pinId past N
--- init
my $m = $::Masters[0];
my $rep = $::Replicas[0];
# a pinId used up and one counted once, on that master
my ($used) = grep { ::owner(::slot_of($_)) == $m } map { ::pin(83, $_) } 1 .. 200;
my ($once) = grep { $_ ne $used && ::owner(::slot_of($_)) == $m } map { ::pin(83, $_) } 1 .. 200;
my ($fresh) = grep { $_ ne $used && $_ ne $once && ::owner(::slot_of($_)) == $m } map { ::pin(83, $_) } 1 .. 200;
my @s = map { scalar ::resend($_, "/2fa/2/pin/$used/resend/voice") } 1981, 1982, 1981;
Test::More::is("@s", '200 200 200', 'TEST 3: a pinId used up before');
Test::More::is(scalar ::resend(1982, "/2fa/2/pin/$once/resend/voice"), 200, 'TEST 3: a pinId counted once');
Test::More::is(::redis($m, 'WAIT', 1, 5000), 1, 'TEST 3: the replica has the counts');
Test::More::is(::redis($rep, 'CLUSTER', 'FAILOVER'), 'OK', 'TEST 3: CLUSTER FAILOVER accepted');
my (%seen, $t0);
$t0 = Time::HiRes::time();
while (Time::HiRes::time() - $t0 < 4) {
    for my $port (1981, 1982) {
        $seen{'used ' . ::resend($port, "/2fa/2/pin/$used/resend/voice")}++;
        $seen{'fresh ' . ::resend($port, "/2fa/2/pin/$fresh/resend/voice")}++;
    }
    Time::HiRes::sleep(0.02);
}
my $seen = join ', ', map { "$_ x$seen{$_}" } sort keys %seen;
Test::More::like(::redis($rep, 'ROLE')->[0], qr/^master$/, 'TEST 3: the replica is the master now');
Test::More::unlike($seen, qr/used 200/, "TEST 3: the used-up pinId never admitted again ($seen)");
Test::More::like($seen, qr/fresh 200 x3\b/, "TEST 3: a new pinId admitted exactly 3 times across the switch ($seen)");
Test::More::is(::mock_count($fresh, 3), 3, 'TEST 3: the mock got 3 resends of it');
Test::More::is(scalar ::resend(1982, "/2fa/2/pin/$once/resend/voice"), 200, 'TEST 3: the pinId counted once before: a second admission');
Test::More::is(::redis($rep, 'ZCARD', "tfa:cl:{$once}"), 2, 'TEST 3: ... counted twice on the new master');
--- request
POST /2fa/2/pin/81000000000000000000000000000003/resend/voice
--- error_code: 429
--- no_error_log
[alert]
[crit]



=== TEST 4: a master stopped: on_store_error=reject refuses during the gap (logged), the gateways follow the promoted replica, nothing past N
--- init
my $m = $::Replicas[0];     # the master since TEST 3
my $rep = $::Masters[0];    # its replica
my ($used) = grep { ::owner(::slot_of($_)) == $m } map { ::pin(84, $_) } 1 .. 200;
my ($fresh) = grep { $_ ne $used && ::owner(::slot_of($_)) == $m } map { ::pin(84, $_) } 1 .. 200;
my @s = map { scalar ::resend($_, "/2fa/2/pin/$used/resend/voice") } 1981, 1982, 1981;
Test::More::is("@s", '200 200 200', 'TEST 4: a pinId used up before');
Test::More::is(::redis($m, 'WAIT', 1, 5000), 1, 'TEST 4: the replica has the counts');
my $t0 = Time::HiRes::time();
::redis_stop($m);
my (%seen, $back);
my $run = 0;
while (Time::HiRes::time() - $t0 < 20) {
    for my $port (1981, 1982) {
        $seen{'used ' . ::resend($port, "/2fa/2/pin/$used/resend/voice")}++;
        my $s = ::resend($port, "/2fa/2/pin/$fresh/resend/voice");
        $seen{"fresh $s"}++;
        my $probe = ::pin(85, ++$::Probe);
        $s = ::resend($port, "/2fa/2/pin/$probe/resend/voice");
        $run = $s == 200 ? $run + 1 : 0;
    }
    if ($run >= 16) {
        $back = Time::HiRes::time() - $t0;
        last;
    }
    Time::HiRes::sleep(0.02);
}
my $seen = join ', ', map { "$_ x$seen{$_}" } sort keys %seen;
Test::More::ok(defined $back, sprintf 'TEST 4: both gateways admit again %s after the master stopped (%s)',
               defined $back ? sprintf('%.1fs', $back) : 'not within 20s', $seen);
Test::More::like($seen, qr/503/, "TEST 4: refused with 503 during the gap ($seen)");
Test::More::unlike($seen, qr/used 200/, "TEST 4: the used-up pinId never admitted again ($seen)");
Test::More::like($seen, qr/fresh 200 x3\b/, "TEST 4: a new pinId admitted exactly 3 times across the switch ($seen)");
--- request
POST /2fa/2/pin/81000000000000000000000000000004/resend/voice
--- error_code: 429
--- error_log eval
qr/\[error\] .*tfa_resend_limit_zone "cl": redis at cluster [^;]+ node 127\.0\.0\.1:\d+ [^;]+; on_store_error=reject: resends are refused with 503/
--- no_error_log
[alert]
[crit]



=== TEST 5: redis-cli --cluster reshard under traffic: 1000 slots holding live pinIds move; every admission counted once, none past N
--- init
# the master stopped in TEST 4 back, as a replica: redis-cli wants every
# node reachable
::node_start($::Replicas[0]);
for my $i (1 .. 300) {
    my $ok = grep {
        (eval { ::redis($_, 'CLUSTER', 'INFO') } // '') =~ /cluster_state:ok/
    } @::Masters, @::Replicas;
    last if $ok == 6;
    Time::HiRes::sleep(0.1);
}
my ($from, $to) = @::Masters[1, 2];
# the slots that move: the first 1000 of $from's, as redis-cli takes them
my @slots;
for my $range (sort { $a->[0] <=> $b->[0] } @{ ::redis($from, 'CLUSTER', 'SLOTS') }) {
    push @slots, $range->[0] .. $range->[1] if $range->[2][1] == $from;
}
my %moves = map { $_ => 1 } @slots[0 .. 999];
# pinIds in the slots that move, and others
my @moving = grep { $moves{::slot_of($_)} } map { ::pin(86, $_) } 1 .. 3000;
Test::More::cmp_ok(scalar @moving, '>=', 60, 'TEST 5: 60 pinIds in the slots that move');
@moving = @moving[0 .. 59];
my @other = map { ::pin(87, $_) } 1 .. 20;
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    exec "redis-cli --cluster reshard 127.0.0.1:$from --cluster-from $::Id{$from} --cluster-to $::Id{$to} --cluster-slots 1000 --cluster-yes > $::Dir/reshard.log 2>&1";
    POSIX::_exit(127);
}
my ($rounds, %seen) = (0);
my @all = (@moving, @other);
while (waitpid($pid, POSIX::WNOHANG()) == 0) {
    my $p = $all[$rounds++ % @all];
    my $s = ::burst([1981, 1982], "/2fa/2/pin/$p/resend/voice", 2);
    $seen{$_->[0]} += $_->[1] for map { [ /^(\w+) x(\d+)$/ ] } split /, /, $s;
}
Test::More::is($?, 0, "TEST 5: redis-cli --cluster reshard moved 1000 slots ($rounds rounds of resends meanwhile)");
my $seen = join ', ', map { "$_ x$seen{$_}" } sort keys %seen;
Test::More::ok($rounds >= 20, "TEST 5: resends went on during the reshard: $rounds rounds ($seen)");
Test::More::is(scalar(grep { ::owner(::slot_of($_), $from) == $to } @moving), scalar @moving,
               'TEST 5: the moving pinIds are on the other master now');
# an admission is in the cluster before its resend goes: the count there
# is final, the mock's follows it
my @wrong = grep {
    my $c = ::redis(::owner(::slot_of($_)), 'ZCARD', "tfa:cl:{$_}");
    $c > 3 || ::mock_count($_, $c) != $c
} @all;
Test::More::is("@wrong", '', 'TEST 5: during the reshard, each pinId counted once per resend let through, none past 3');
::burst([1981, 1982], [ map { "/2fa/2/pin/$_/resend/voice" } @all ], 4 * @all);
@wrong = grep { ::mock_count($_, 3) != 3 || ::count_of($_, 3) != 3 } @all;
Test::More::is("@wrong", '', 'TEST 5: then exactly 3 of each, in the mock and in the cluster');
--- request
POST /2fa/2/pin/81000000000000000000000000000005/resend/voice
--- error_code: 429
--- no_error_log
[alert]
[crit]



=== TEST 6: CLUSTERDOWN (a slot no master serves): the resend is sent again within redis_timeout and admitted once the slot is served; past redis_timeout on_store_error decides, logged
--- init
::redis($_, 'CONFIG', 'SET', 'cluster-require-full-coverage', 'no') for @::Masters, @::Replicas;
my $p = ::pin(88, 1);
my $slot = ::slot_of($p);
my $owner = ::owner($slot);
my $unserve = sub { ::redis($_, 'CLUSTER', 'DELSLOTS', $slot) for @::Masters, @::Replicas };
# served again by its master, and every node told at once (not by gossip)
my $serve = sub {
    ::redis($owner, 'CLUSTER', 'ADDSLOTS', $slot);
    ::redis($_, 'CLUSTER', 'SETSLOT', $slot, 'NODE', $::Id{$owner})
        for grep { $_ != $owner } @::Masters, @::Replicas;
};
$unserve->();
Test::More::like(::redis($owner, 'EVAL', 'return 1', 1, "tfa:cl:{$p}"), qr/^ERR CLUSTERDOWN/,
                 'TEST 6: the slot is not served: CLUSTERDOWN');
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    Time::HiRes::sleep(0.4);
    $serve->();
    POSIX::_exit(0);
}
my ($s, $secs) = ::resend(1981, "/2fa/2/pin/$p/resend/voice");
waitpid $pid, 0;
Test::More::is($s, 200, sprintf 'TEST 6: admitted once the slot is served again, %.2fs later', $secs);
Test::More::ok($secs >= 0.3 && $secs < 1, 'TEST 6: ... within redis_timeout (1s)');
Test::More::is(::count_of($p, 1), 1, 'TEST 6: ... counted once');
Time::HiRes::sleep(1.1);    # the error line, once a second at most
$unserve->();
($s, $secs) = ::resend(1981, "/2fa/2/pin/$p/resend/voice");
Test::More::is($s, 503, sprintf 'TEST 6: not served for longer than redis_timeout: 503 after %.2fs (on_store_error=reject)', $secs);
$serve->();
--- request
POST /2fa/2/pin/88000000000000000000000000000002/resend/voice
--- error_code: 200
--- error_log eval
qr/\[error\] .*tfa_resend_limit_zone "cl": redis at cluster [^;]+ (answered "CLUSTERDOWN[^"]*"|has no master for slot \d+); on_store_error=reject: resends are refused with 503/
--- no_error_log
[alert]
[crit]
