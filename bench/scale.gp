# bench/scale.gp - the plots of make bench-scale, from the .dat files that
# bench/scale.sh writes.
#   gnuplot -e "dir='...'; stamp='...'; plots='servers names sizes'" bench/scale.gp
# draws the plots named in plots (those whose section ran).
set terminal pngcairo size 800,500 font ",10" noenhanced
set grid
set key top left

if (strstrt(plots, "servers") > 0) {
set output dir."/servers.png"
set title "Claim latency, 1 client, against the broker's floor (".stamp.")"
set xlabel "servers"
set ylabel "microseconds (median)"
set xtics (3, 5, 9)
plot dir."/servers.dat" using 1:2 with linespoints lw 2 title "claim", \
     dir."/servers.dat" using 1:4 with linespoints lw 2 title "floor: broadcast answered by every peer", \
     dir."/servers.dat" using 1:12 with linespoints lw 2 title "the protocol's claim done bare (+ advertisement)", \
     dir."/servers.dat" using 1:7 with linespoints lw 2 title "visibility lag", \
     dir."/servers_2brokers.dat" using 1:2 with points pt 7 ps 1.5 title "claim, two clustered brokers"
}

if (strstrt(plots, "names") > 0) {
set output dir."/names.png"
set title "Sync on join and listing, by number of names (".stamp.")"
set xlabel "names"
set ylabel "seconds"
set logscale x
set xtics auto
set format x "%.0s%c"
set y2label "whereis_name / SELECT 1"
set y2tics
set y2range [0:1.5]
plot dir."/names.dat" using 1:3 with linespoints lw 2 title "sync on join (incl. server start)", \
     dir."/names.dat" using 1:($9/1000) with linespoints lw 2 title "SELECT count(*) FROM registrations", \
     dir."/names.dat" using 1:($7/$8) axes x1y2 with linespoints lw 2 title "whereis_name / SELECT 1 (right)"
unset y2label
unset y2tics
unset logscale x
}

if (strstrt(plots, "sizes") > 0) {
set output dir."/sizes.png"
set title "Remote send and call, 1 client, by message size (".stamp.")"
set xlabel "message bytes"
set ylabel "microseconds (median)"
set logscale x
set format x "%g"
plot dir."/sizes.dat" using 1:2 with linespoints lw 2 title "send", \
     dir."/sizes.dat" using 1:6 with linespoints lw 2 title "call"
}
