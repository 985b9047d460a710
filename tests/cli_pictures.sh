#!/usr/bin/env bash
# cli_pictures.sh: the pictures: `train --plot` and `plot LOG.csv` curves (well-formed SVG with
# their lines), `eval --errors` (a PNG grid of the right size) and `eval --confusion` (an SVG heat
# map whose cells hold the confusion matrix); bad logs fail naming file and line; unwritable
# outputs fail before the work and leave nothing behind; text from file names is escaped.
set -uo pipefail
. "$(dirname "$0")/harness.sh" cli_pictures
# ok NAME COMMAND...: like check, for commands whose quoting eval would mangle
ok() { local name=$1; shift; if "$@"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $name"; fi; }
py=/usr/bin/python3
# svg FILE EXPR [ARG...]: FILE parses as XML (minidom) and EXPR holds, with d the document,
# tags(name) its elements of that name and sys.argv[2:] the ARGs
svg() { local file=$1 expr=$2; shift 2; $py -c "import sys, xml.dom.minidom as m
d = m.parse(sys.argv[1]); tags = d.getElementsByTagName
assert d.documentElement.tagName == 'svg'
assert $expr" "$file" "$@"; }
# png_size FILE: prints 'W H' from the IHDR chunk after checking the signature
png_size() { $py -c "import struct, sys
b = open(sys.argv[1], 'rb').read()
assert b[:8] == b'\x89PNG\r\n\x1a\n' and b[12:16] == b'IHDR', 'not a PNG'
print(*struct.unpack('>II', b[16:24]))" "$1"; }
no_tmp() { ! ls ./*.tmp.* */*.tmp.* 2>/dev/null | grep -q .; }

check "mnist --help lists plot" "'$mnist' --help | grep -q '^  plot '"
check "plot --help" "'$mnist' plot --help | grep -q 'usage: mnist plot'"
check "train --help explains --plot" "'$mnist' train --help | grep -q -- '--plot FILE.svg'"
check "eval --help explains --errors and --confusion" \
  "'$mnist' eval --help | grep -q -- '--errors FILE.png' && '$mnist' eval --help | grep -q -- '--confusion FILE.svg'"

# ---- mnist plot on hand-made logs (no data needed) ----
{ echo "step,epoch,loss,accuracy,images_per_second,lr"
  for s in $(seq 10 10 300); do
    acc=""; [ $((s % 50)) -eq 0 ] && acc="0.$((80 + s / 50))"
    echo "$s,0.$((s / 10)),$(awk "BEGIN{print 2.3*exp(-$s/80)+0.2}"),$acc,1000.0,0.5"
  done; } > made.csv
check "plot writes the curves" "'$mnist' plot made.csv -o made.svg >/dev/null"
check "made.svg: loss and accuracy lines, axis titles" \
  "svg made.svg \"len(tags('polyline')) >= 2 and 'accuracy (%)' in d.toxml() and 'loss (log scale)' in d.toxml()\""
check "plot without -o writes LOG.svg" "'$mnist' plot made.csv | grep -q 'wrote made.svg'"
printf 'step,epoch,loss,accuracy,images_per_second,lr\n1,0.1,2.0,,1,1\n2,0.2,1.0,,1,1\n' > noacc.csv
check "a log without evaluations: one panel, no accuracy axis" \
  "'$mnist' plot noacc.csv -o noacc.svg >/dev/null && svg noacc.svg \"len(tags('polyline')) == 1 and 'accuracy (%)' not in d.toxml()\""
printf '\xef\xbb\xbfstep,loss,extra,accuracy\r\n1,2.0,x,\r\n\r\n2,1.5,y,0.5\r\n3,1.0,z,0.7' > crlf.csv
check "BOM, CRLF, blank lines, extra columns and no final newline are fine" \
  "'$mnist' plot crlf.csv -o crlf.svg >/dev/null && svg crlf.svg \"len(tags('polyline')) == 2\""
# A resumed run appends to its log from the checkpoint's step: later rows replace earlier ones.
printf 'step,epoch,loss,accuracy,images_per_second,lr\n' > resumed.csv
for s in 1 2 3 4 5 3 4 5 6; do echo "$s,0.$s,1.$s,,1,1" >> resumed.csv; done
check "a rewound (resumed) log keeps the later rows" \
  "'$mnist' plot resumed.csv -o resumed.svg >/dev/null && grep -q '6 reports to step 6' resumed.svg"
"$mnist" plot made.csv -o t.svg --title $'a<b & "c" \xff\x01 \xe2\x82\xac' >/dev/null
ok "--title is escaped, bad bytes replaced" svg t.svg "tags('text')[0].firstChild.data == sys.argv[2]" \
  $'a<b & "c" ?? \xe2\x82\xac'


# Bad logs: one line naming the file (and the line), nothing written.
printf 'step,epoch,loss,accuracy,images_per_second,lr\n1,0.1,2.0,,1,1\n2,0.2,abc,,1,1\n' > bad_num.csv
expect_error "non-number" 1 "bad_num.csv:3: loss 'abc' is not a number" "$mnist" plot bad_num.csv -o out.svg
printf 'step,epoch,loss,accuracy,images_per_second,lr\n1,0.1,2.0,,1\n' > bad_fields.csv
expect_error "missing field" 1 "bad_fields.csv:2: 5 fields where the header has 6" "$mnist" plot bad_fields.csv -o out.svg
printf '1,0.1,2.0,,1,1\n2,0.2,1.0,,1,1\n' > no_header.csv
expect_error "no header" 1 "no_header.csv:1: not a training log" "$mnist" plot no_header.csv -o out.svg
: > empty.csv
expect_error "empty log" 1 "empty.csv: empty file" "$mnist" plot empty.csv -o out.svg
printf 'step,epoch,loss,accuracy,images_per_second,lr\n' > header_only.csv
expect_error "header only" 1 "header_only.csv: the log has a header but no rows" "$mnist" plot header_only.csv -o out.svg
printf 'step,loss,accuracy\n1,2.0,\n2,1.0,1.5\n' > bad_acc.csv
expect_error "accuracy over 1" 1 "bad_acc.csv:3: accuracy 1.5 is out of range" "$mnist" plot bad_acc.csv -o out.svg
printf 'step,loss\n1,2.0\n2,-1\n' > neg_loss.csv
expect_error "negative loss" 1 "neg_loss.csv:3: loss -1 is out of range" "$mnist" plot neg_loss.csv -o out.svg
printf 'step,loss\n1,2.0\n,1.0\n' > no_step.csv
expect_error "empty step" 1 "no_step.csv:3: the step column is empty" "$mnist" plot no_step.csv -o out.svg
printf 'step,loss\n1.5,2.0\n' > frac_step.csv
expect_error "fractional step" 1 "frac_step.csv:2: step 1.5 is not a whole number" "$mnist" plot frac_step.csv -o out.svg
printf 'step,loss\n1,nan\n' > nan.csv
expect_error "NaN loss" 1 "nan.csv:2: loss 'nan' is not a number" "$mnist" plot nan.csv -o out.svg
printf 'step,loss,loss\n1,2,2\n' > dup.csv
expect_error "duplicated column" 1 "dup.csv:1: the header names column 'loss' twice" "$mnist" plot dup.csv -o out.svg
printf 'step,loss\n1,2\0\n' > nul.csv
expect_error "binary file" 1 "nul.csv: not a text file" "$mnist" plot nul.csv -o out.svg
expect_error "missing log" 1 "missing.csv" "$mnist" plot missing.csv -o out.svg
expect_error "no log named" 2 "plot: which log?" "$mnist" plot
check "nothing written by the failures" "[ ! -e out.svg ] && no_tmp"
# Unwritable outputs: an error naming the path, no partial file.
expect_error "plot into a missing directory" 1 "nodir/p.svg" "$mnist" plot made.csv -o nodir/p.svg
mkdir -p isdir.svg
expect_error "plot onto a directory" 1 "isdir.svg" "$mnist" plot made.csv -o isdir.svg
check "no partial files from unwritable outputs" "[ ! -e nodir ] && [ -z \"\$(ls -A isdir.svg)\" ] && no_tmp"

if [ ! -d "${MNIST_DATA:-}" ]; then echo "SKIP: no MNIST data for the rest"; echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit; fi

# ---- train --plot ----
"$mnist" train --model softmax --steps 200 --plot curves.svg --log log.csv --out sm.safetensors \
  2>train.err >/dev/null
check "train --plot succeeds and says so" "grep -q 'saved curves.svg' train.err"
check "curves.svg: well-formed, a loss line and an accuracy line, epochs on top" \
  "svg curves.svg \"len(tags('polyline')) >= 2 and 'test accuracy' in d.toxml() and 'epoch' in d.toxml()\""
check "--plot made training evaluate 20 times (log rows with accuracy)" \
  "[ \$(awk -F, 'NR > 1 && \$4 != \"\"' log.csv | wc -l) -eq 20 ]"
check "mnist plot draws the same log" \
  "'$mnist' plot log.csv -o p.svg >/dev/null && svg p.svg \"len(tags('polyline')) >= 2 and '20 evaluations' in d.toxml()\""
expect_error "train --plot into a missing directory fails before training" 1 "nodir/c.svg" \
  "$mnist" train --model softmax --steps 5 --plot nodir/c.svg --out never.safetensors --quiet
check "... and writes no model" "[ ! -e never.safetensors ] && no_tmp"

# ---- eval --errors / --confusion ----
out=$("$mnist" eval sm.safetensors --errors errs.png --confusion cm.svg --json 2>eval.err)
check "eval --json still prints its JSON" "$py -c 'import json,sys; json.loads(sys.argv[1])' \"\$out\""
check "errs.png: 100 digits, 10 to a row (640x820)" "[ \"\$(png_size errs.png)\" = '640 820' ]"
check "eval says how many mistakes it drew" "grep -q 'wrote errs.png: 100 of [0-9]* misclassified' eval.err"
ok "cm.svg: 100 cells whose counts are the confusion matrix" svg cm.svg \
  "len([r for r in tags('rect') if r.getAttribute('class') == 'cell']) == 100 and [int(t.firstChild.data.split(': ')[1]) for t in tags('title')] == [v for row in __import__('json').loads(sys.argv[2])['confusion'] for v in row]" "$out"
check "--errors-max 25: three rows (640x246)" \
  "'$mnist' eval sm.safetensors --errors e25.png --errors-max 25 >/dev/null 2>&1 && [ \"\$(png_size e25.png)\" = '640 246' ]"
check "an ensemble draws its averaged mistakes" \
  "'$mnist' eval sm.safetensors sm.safetensors --errors ens.png --errors-max 5 2>&1 >/dev/null | grep -q 'wrote ens.png: 5 of'"
cp sm.safetensors 'a&b<"c">.safetensors'
"$mnist" eval 'a&b<"c">.safetensors' --confusion esc.svg >/dev/null 2>&1
ok "a model name with markup is escaped in the title" svg esc.svg \
  "tags('text')[0].firstChild.data == sys.argv[2]" 'Confusion matrix: a&b<"c">.safetensors'
expect_error "eval --errors into a missing directory" 1 "nodir/e.png" "$mnist" eval sm.safetensors --errors nodir/e.png
expect_error "eval --confusion into a missing directory" 1 "nodir/c.svg" "$mnist" eval sm.safetensors --confusion nodir/c.svg
expect_error "bad --errors-max" 2 "--errors-max: '0'" "$mnist" eval sm.safetensors --errors x.png --errors-max 0
check "no temporary files left" "no_tmp"

finish
