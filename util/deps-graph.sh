#!/usr/bin/env bash
# The module's include graph and call graph, file by file, and whether
# either has a cycle.  A "room" is a .c with its .h (src/x.c and src/x.h
# are room x); the front door is ngx_http_tfa_resend_module.c.
#
#   util/deps-graph.sh            print both graphs, exit 1 on a cycle
#
# The call graph counts every use of another room's global name (a call, a
# function put in a table, a global table read), found by its definition
# at the start of a line in nginx's style.  The module object itself
# (ngx_http_tfa_resend_module, used by every file to reach its
# configuration) is left out: module.h declares it for everyone.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

perl -e '
use strict;
use warnings;

my @files = ("ngx_http_tfa_resend_module.c", sort glob("src/*.[ch]"));
my (%text, %defs, %inc, %calls);

sub room {
    my ($f) = @_;
    $f =~ s{^src/}{};
    $f =~ s{\.[ch]$}{};
    $f =~ s{^ngx_http_tfa_resend_}{};
    return $f eq "module" && $_[0] !~ m{^src/} ? "front door" : $f;
}

for my $f (@files) {
    open my $fh, "<", $f or die "$f: $!";
    local $/;
    my $s = <$fh>;
    while ($s =~ /^#include\s+"([^"]+)"/mg) {
        my $h = -e "src/$1" ? "src/$1" : $1;
        $inc{$f}{$h} = 1;
    }

    $s =~ s{/\*.*?\*/}{ }gs;                  # comments
    $s =~ s{'"'"'(?:[^'"'"'\\\n]|\\.)'"'"'}{0}g;         # characters
    $s =~ s{"(?:[^"\\\n]|\\.)*"}{""}g;        # strings
    $text{$f} = $s;

    next unless $f =~ /\.c$/;

    # a global function: its type on the line above, not static
    while ($s =~ /^([^\n]*)\n(ngx_http_tfa_resend_\w+)\(/mg) {
        my ($type, $name) = ($1, $2);
        $defs{$name} = room($f) if $type !~ /^static\b/ && $type =~ /\S/;
    }

    # a global table or variable
    while ($s =~ /^(?!static\b)[a-z_][\w ]*?[\s*](ngx_http_tfa_resend_\w+)\s*(?:\[[^\]]*\])?\s*=/mg) {
        $defs{$1} = room($f);
    }
}

delete $defs{ngx_http_tfa_resend_module};

for my $f (grep { /\.c$/ } @files) {
    my $from = room($f);
    while ($text{$f} =~ /\b(ngx_http_tfa_resend_\w+)\b/g) {
        my $to = $defs{$1};
        next if !defined $to || $to eq $from;
        $calls{$from}{$to}{$1} = 1;
    }
}

sub cycles {
    my ($g) = @_;
    my (%state, @stack, @found);
    my $visit;
    $visit = sub {
        my ($n) = @_;
        $state{$n} = 1;
        push @stack, $n;
        for my $m (sort keys %{ $g->{$n} || {} }) {
            if (($state{$m} // 0) == 1) {
                my ($i) = grep { $stack[$_] eq $m } 0 .. $#stack;
                push @found, join(" -> ", @stack[$i .. $#stack], $m);
            } elsif (!$state{$m}) {
                $visit->($m);
            }
        }
        pop @stack;
        $state{$n} = 2;
    };
    $visit->($_) for grep { !$state{$_} } sort keys %$g;
    return @found;
}

my (%incg, %roomg);

print "== include graph (file -> the module headers it includes)\n";
for my $f (@files) {
    my @to = sort keys %{ $inc{$f} || {} };
    next unless @to;
    print "$f -> ", join(" ", map { s{^src/}{}r } @to), "\n";
    for my $h (@to) {
        $incg{$f}{$h} = 1;
        $roomg{room($f)}{room($h)} = 1 if room($f) ne room($h);
    }
}

print "\n== call graph (room -> room: the names it uses)\n";
for my $from (sort keys %calls) {
    for my $to (sort keys %{ $calls{$from} }) {
        print "$from -> $to: ",
              join(" ", sort keys %{ $calls{$from}{$to} }), "\n";
        $roomg{$from}{$to} = 1;
    }
}

my @c = (cycles(\%incg), cycles(\%roomg));

print "\n== cycles\n";
print @c ? map { "$_\n" } @c : "none\n";
exit(@c ? 1 : 0);
'
