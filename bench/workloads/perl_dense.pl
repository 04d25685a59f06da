# perl_dense.pl: an allocation-dense perl run for bench_recorder.sh (perl
# is built with the system malloc, usemymalloc=n): hashes of small arrays
# and hashes, strings joined, a sliding window deleted. About 9.5 M events.
my %h; my @a;
for my $i (1..600000) { my $k = "key$i"; $h{$k} = [$i, "v" x ($i % 40), {n => $i}]; push @a, join(",", $i, $k); delete $h{"key" . ($i - 500)} if $i > 500; shift @a if @a > 1000; }
print scalar(keys %h), "\n";
