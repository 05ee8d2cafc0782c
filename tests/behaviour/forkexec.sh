#!/bin/bash
# Forks and execs through pipes, subshells, command substitution and
# background jobs: everything a shell does with fds. Output is compared.
set -u
echo "pipeline: $(printf 'b\na\nc\n' | sort | tr a-z A-Z | paste -sd,)"
x=$(echo inner | (read v; echo "sub:$v"))
echo "substitution: $x"
{ echo one; echo two >&2; } 2>&1 | wc -l
exec 5> >(tr a-z A-Z > "$TMPDIR/fs_fe.out")
echo "to process substitution" >&5
exec 5>&-
for i in 1 2 3; do (echo "bg $i" > "$TMPDIR/fs_fe.$i") & done
wait
cat "$TMPDIR"/fs_fe.[123]
sleep 0.1
cat "$TMPDIR/fs_fe.out"
bash -c 'exec 3<&0; read -u 3 line; echo "exec read: $line"' <<< "heredoc line"
coproc CAT { cat; }
echo "coproc data" >&"${CAT[1]}"
read -r reply <&"${CAT[0]}"
echo "coproc: $reply"
exec {CAT[1]}>&-
wait
python3 -c 'import subprocess; print("python subprocess:", subprocess.run(["echo", "hi"], capture_output=True).stdout)'
rm -f "$TMPDIR"/fs_fe.*
