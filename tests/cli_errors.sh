#!/usr/bin/env bash
# cli_errors.sh: every bad input we know of, the exact message the user sees, and its exit status.
# Each case runs in a directory whose files are listed before and after: no error may leave a
# file behind (no partial model, no temporary file). Each expected message must appear word for
# word in docs/ERRORS.md, so the document and the program cannot drift apart; `bash
# tests/cli_errors.sh --markdown` prints the document's tables from the cases below.
set -uo pipefail
markdown=0
[ "${1:-}" = --markdown ] && markdown=1
mnist=${MNIST_BIN:?} tmp=${MNIST_TMP:-/tmp}/cli_errors src=${MNIST_SOURCE:-$(dirname "$0")/..}
doc=$src/docs/ERRORS.md
rm -rf "$tmp" && mkdir -p "$tmp" && cd "$tmp"
pass=0 fail=0

# ---- The bad inputs: data directories (d/), model files (m/) and images (i/). ----
python3 - <<'PY' || exit 1
import gzip, json, os, struct, zlib
def idx_images(n, r, c): return struct.pack(">IIII", 0x803, n, r, c) + bytes((i * 37 + i // 28) % 256 for i in range(n * r * c))
def idx_labels(n, k=10): return struct.pack(">II", 0x801, n) + bytes(i % k for i in range(n))
def dataset(name, images, labels, gz=False, split="t10k", compressed=False):
    d = f"d/{name}"; os.makedirs(d, exist_ok=True)
    for kind, data in (("images-idx3", images), ("labels-idx1", labels)):
        zip_it = gz and not (compressed and kind == "images-idx3")
        open(f"{d}/{split}-{kind}-ubyte" + (".gz" if gz else ""), "wb").write(gzip.compress(data, mtime=0) if zip_it else data)
good_i, good_l = idx_images(20, 28, 28), idx_labels(20)
for split in ("train", "t10k"): dataset("good", good_i, good_l, split=split)
dataset("empty", b"", good_l)
dataset("badmagic", b"\x12\x34\x56\x78" + good_i[4:], good_l)
dataset("swapped", good_l, good_i)
dataset("shortheader", good_i[:10], good_l)
dataset("truncated", good_i[:-100], good_l)
dataset("trailing", good_i + bytes(7), good_l)
dataset("huge", struct.pack(">IIII", 0x803, 1000000, 28, 28), good_l)
dataset("zero", struct.pack(">IIII", 0x803, 0, 28, 28), struct.pack(">II", 0x801, 0))
dataset("float", struct.pack(">IIII", 0xD03, 20, 28, 28) + bytes(20 * 784 * 4), good_l)
dataset("count", good_i, idx_labels(19))
dataset("small", idx_images(20, 8, 8), good_l)
for split in ("train", "t10k"): dataset("classes", good_i, idx_labels(20, k=20), split=split)
g = gzip.compress(good_i, mtime=0)
dataset("gztrunc", g[: len(g) // 2], good_l, gz=True, compressed=True)
bad = bytearray(g); bad[20:30] = b"\xff" * 10
dataset("gzcorrupt", bytes(bad), good_l, gz=True, compressed=True)
dataset("gzhuge", struct.pack(">IIII", 0x803, 1000000, 28, 28) + bytes(1000), good_l, gz=True)
os.makedirs("d/nolabels"); open("d/nolabels/t10k-images-idx3-ubyte", "wb").write(good_i)
os.makedirs("d/dir/t10k-images-idx3-ubyte"); open("d/dir/t10k-labels-idx1-ubyte", "wb").write(good_l)
open("d/afile", "wb").write(b"x")

# Model files: a softmax model (dense:10 on 1x28x28, zero weights) written the way mnist.c does.
os.makedirs("m")
meta = {"format_version": "1", "producer": "mnist.c", "spec": "dense:10", "preset": "softmax",
        "input_shape": "[1,28,28]", "normalisation_mean": "0", "normalisation_std": "1",
        "num_classes": "10", "class_names": "0,1,2,3,4,5,6,7,8,9"}
hdr = {"__metadata__": meta, "fc.weight": {"dtype": "F32", "shape": [10, 784], "data_offsets": [0, 31360]},
       "fc.bias": {"dtype": "F32", "shape": [10], "data_offsets": [31360, 31400]}}
data = bytes(31400)
def st(name, header=None, body=data, raw=None):
    if raw is None:
        h = json.dumps(header, separators=(",", ":")).encode()
        raw = struct.pack("<Q", len(h) + (-len(h) % 8)) + h + b" " * (-len(h) % 8) + body
    open(f"m/{name}.safetensors", "wb").write(raw)
def with_meta(**kw):
    h = json.loads(json.dumps(hdr)); h["__metadata__"].update(kw); return h
def with_tensor(name, **kw):
    h = json.loads(json.dumps(hdr)); h[name].update(kw); return h
st("good", hdr)
good = open("m/good.safetensors", "rb").read()
st("empty", raw=b"")
st("cut", raw=good[:300])
st("notjson", raw=struct.pack("<Q", 8) + b"{not jso" + data)
st("array", raw=struct.pack("<Q", 8) + b"[1,2,3] ")
st("nometa", {k: v for k, v in hdr.items() if k != "__metadata__"})
st("version", with_meta(format_version="2"))
st("shape", with_meta(input_shape="[1,28]"))
st("spec", with_meta(spec="conv:4:5,rleu,dense:10", preset=""))
st("bigspec", with_meta(spec="conv:64:5,relu,dense:1000,dense:10", preset=""))
st("hugeinput", with_meta(input_shape="[4096,4096,4096]"))
st("preprocess", with_meta(preprocess="width:99"))
st("dtype", with_tensor("fc.weight", dtype="F16"))
st("tshape", with_tensor("fc.weight", shape=[784, 10]))
h = json.loads(json.dumps(hdr)); h["fc.w"] = h.pop("fc.weight"); st("missing", h)
st("overlap", with_tensor("fc.bias", data_offsets=[0, 40]))
# a bn model (dense:4,bn,dense:10) whose running variance holds -1
h, off, body = {"__metadata__": dict(meta, spec="dense:4,bn,dense:10", preset="")}, 0, b""
for name, shape in [("fc1.weight", [4, 784]), ("fc1.bias", [4]), ("bn.weight", [4]), ("bn.bias", [4]),
                    ("bn.running_mean", [4]), ("bn.running_var", [4]), ("fc2.weight", [10, 4]), ("fc2.bias", [10])]:
    n = 4 * shape[0] * (shape[1] if len(shape) > 1 else 1)
    h[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + n]}
    body += struct.pack("<4f", 1, 1, -1, 1) if name == "bn.running_var" else bytes(n)
    off += n
st("bnvar", h, body)
st("trailing", hdr, body=data + bytes(4))
with open("m/bighdr.safetensors", "wb") as f:  # sparse: 20 MiB of header length, nothing in it
    f.write(struct.pack("<Q", 20 << 20)); f.truncate(8 + (20 << 20))
os.makedirs("m/dir.safetensors")

# Images.
os.makedirs("i")
def png(w, h, ink=True, cut=None):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    rows = b"".join(b"\0" + bytes(20 if ink and 8 <= x < 12 and 4 <= y < 24 else 235 for x in range(w)) for y in range(h))
    b = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    b += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b[:cut] if cut else b
open("i/one.png", "wb").write(png(20, 28))
open("i/cut.png", "wb").write(png(20, 28, cut=60))
open("i/wide.png", "wb").write(png(9000, 10))
open("i/blank.png", "wb").write(png(20, 28, ink=False))
open("i/notes.txt", "w").write("not a picture\n")
open("i/empty.png", "wb").write(b"")
open("i/huge.pgm", "w").write("P5 100000 100000 255\n")
open("i/short.pgm", "wb").write(b"P5 20 20 255\n" + bytes(100))
open("i/bad.jpg", "wb").write(b"\xff\xd8\xff\xe0" + bytes(100))
open("i/zero.pgm", "w").write("P2 0 5 255\n")
PY
# A trained 28x28 model, and one for 8x8 inputs.
"$mnist" train --data d/good --model softmax --steps 2 --batch 4 --out m.safetensors --quiet >/dev/null
mkdir -p d/small8 && cp d/small/t10k-images-idx3-ubyte d/small8/train-images-idx3-ubyte &&
  cp d/small/t10k-labels-idx1-ubyte d/small8/train-labels-idx1-ubyte && cp d/small/t10k-* d/small8/
"$mnist" train --data d/small8 --model softmax --steps 2 --batch 4 --out m8.safetensors --quiet >/dev/null
if [ ! -s m.safetensors ] || [ ! -s m8.safetensors ] || ! "$mnist" eval m.safetensors --data d/good >/dev/null ||
   ! "$mnist" predict m.safetensors i/one.png >/dev/null || ! "$mnist" info m/good.safetensors >/dev/null; then
  echo "FAIL: the good inputs do not work"; exit 1
fi

# ---- The cases. ----
section() {
  [ $markdown -eq 1 ] && printf '\n### %s\n\n| Input tried | Exit | Message (stderr) | Test |\n|---|---|---|---|\n' "$1"
  return 0
}
# bad ID EXIT 'INPUT DESCRIPTION' 'MESSAGE' COMMAND...: the command exits with EXIT and prints
# exactly MESSAGE on stderr (for a `+usage` EXIT, the message is followed by the usage text).
bad() {
  local id=$1 want=$2 what=$3 msg=$4; shift 4
  local usage=0
  case $want in +usage) usage=1; want=2 ;; esac
  if [ $markdown -eq 1 ]; then
    printf '| %s | %s | ``%s``%s | `%s` |\n' "$what" "$want" "$msg" "$([ $usage -eq 1 ] && echo ' and the usage')" "$id"
    return
  fi
  local before after out rc first lines
  before=$(find . | sort)
  out=$("$@" 2>&1 >/dev/null); rc=$?
  after=$(find . | sort)
  first=$(head -n 1 <<<"$out"); lines=$(grep -c '' <<<"$out")
  local why=()
  [ "$rc" -eq "$want" ] || why+=("exit $rc, want $want")
  [ "$first" = "$msg" ] || why+=("message: $first")
  [ $usage -eq 1 ] || [ "$lines" -eq 1 ] || why+=("$lines lines of output: $out")
  [ "$before" = "$after" ] || why+=("files left behind: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')")
  [ -f "$doc" ] && ! grep -qF -- "$msg" "$doc" && why+=("message not in docs/ERRORS.md")
  if [ ${#why[@]} -eq 0 ]; then
    pass=$((pass+1))
  else
    fail=$((fail+1)); echo "FAIL: $id ($*):"; printf '    %s\n' "${why[@]}"; echo "    want: $msg"
  fi
}
m=$mnist

section "Data sets (\`train\`, \`eval\`: \`--data DIR\`)"
bad data_missing 1 'data directory does not exist' "mnist: d/missing: cannot open data directory: No such file or directory (run \`mnist data fetch\` to download MNIST)" $m eval m.safetensors --data d/missing
bad data_notdir 1 'data directory is a file' 'mnist: d/afile: not a directory' $m eval m.safetensors --data d/afile
bad data_nolabels 1 'label file missing' "mnist: d/nolabels: no t10k-labels-idx1-ubyte[.gz] in this directory (run \`mnist data fetch\` to download MNIST)" $m eval m.safetensors --data d/nolabels
bad data_dir 1 'image file is a directory' 'mnist: d/dir/t10k-images-idx3-ubyte: is a directory, not a file' $m eval m.safetensors --data d/dir
bad data_empty 1 'empty image file' 'mnist: d/empty/t10k-images-idx3-ubyte: empty file, not an image IDX file' $m eval m.safetensors --data d/empty
bad data_magic 1 'bad magic number' 'mnist: d/badmagic/t10k-images-idx3-ubyte: bad magic 0x12345678 (want 0x00000803 for an image file)' $m eval m.safetensors --data d/badmagic
bad data_swapped 1 'label file where the images should be' 'mnist: d/swapped/t10k-images-idx3-ubyte: this is an IDX label file (magic 0x00000801), not an image file' $m eval m.safetensors --data d/swapped
bad data_float 1 'IDX file of floats (type 0x0d)' 'mnist: d/float/t10k-images-idx3-ubyte: unsupported IDX data type 0x0d (only unsigned bytes, 0x08)' $m eval m.safetensors --data d/float
bad data_header 1 'header cut short (10 bytes)' 'mnist: d/shortheader/t10k-images-idx3-ubyte: truncated header: 10 bytes, an image file needs 16' $m eval m.safetensors --data d/shortheader
bad data_truncated 1 'body shorter than the header says' 'mnist: d/truncated/t10k-images-idx3-ubyte: truncated: header says 20 images of 28x28 = 15680 bytes, file has 15580' $m eval m.safetensors --data d/truncated
bad data_trailing 1 'bytes after the body' 'mnist: d/trailing/t10k-images-idx3-ubyte: trailing data: header says 20 images of 28x28 = 15680 bytes, file has 15687' $m eval m.safetensors --data d/trailing
bad data_zero 1 'header says 0 images' 'mnist: d/zero/t10k-images-idx3-ubyte: header says 0 images: the file holds no data' $m eval m.safetensors --data d/zero
bad data_count 1 'images and labels disagree in number' 'mnist: d/count/t10k-images-idx3-ubyte has 20 images but d/count/t10k-labels-idx1-ubyte has 19 labels' $m eval m.safetensors --data d/count
bad data_huge 1 '16-byte file claiming 1,000,000 images (784 MB)' 'mnist: d/huge/t10k-images-idx3-ubyte: header says 1000000 images of 28x28 = 784000000 bytes, over the limit of 268435456 bytes (raise it with --max-bytes N)' $m eval m.safetensors --data d/huge
bad data_gzhuge 1 'the same, gzipped' 'mnist: d/gzhuge/t10k-images-idx3-ubyte.gz: header says 1000000 images of 28x28 = 784000000 bytes, over the limit of 268435456 bytes (raise it with --max-bytes N)' $m eval m.safetensors --data d/gzhuge
bad data_maxbytes 1 'a file over `--max-bytes`' 'mnist: d/good/t10k-images-idx3-ubyte: file is 15696 bytes, over the limit of 1000 bytes (raise it with --max-bytes N)' $m eval m.safetensors --data d/good --max-bytes 1000
bad data_maxbytes_train 1 'the same for `train`' 'mnist: d/good/train-images-idx3-ubyte: file is 15696 bytes, over the limit of 1000 bytes (raise it with --max-bytes N)' $m train --data d/good --max-bytes 1000 --out t.safetensors
bad data_gztrunc 1 'gzip file cut in half' 'mnist: d/gztrunc/t10k-images-idx3-ubyte.gz: truncated gzip data (it ends after 2200 decompressed bytes)' $m eval m.safetensors --data d/gztrunc
bad data_gzcorrupt 1 'gzip file with corrupt bytes' 'mnist: d/gzcorrupt/t10k-images-idx3-ubyte.gz: corrupt gzip data (invalid bit length repeat)' $m eval m.safetensors --data d/gzcorrupt
bad data_size 1 '8x8 images for a 28x28 model' 'mnist: m.safetensors takes 1x28x28 images but the data holds 8x8' $m eval m.safetensors --data d/small
bad data_classes_train 1 'labels 0-19 for a 10-class spec' 'mnist: d/classes: the data has 20 classes but the model has only 10 outputs (end the spec with dense:20)' $m train --data d/classes --model dense:10 --out t.safetensors
bad data_classes 1 'labels 0-19 for a 10-class model' 'mnist: d/classes: the data has 20 classes but m.safetensors has only 10 outputs' $m eval m.safetensors --data d/classes

section 'Model files (`info`, `eval`, `predict`, `train --resume`)'
bad model_missing 1 'file does not exist' 'mnist: m/none.safetensors: cannot open: No such file or directory' $m info m/none.safetensors
bad model_dir 1 'a directory' 'mnist: m/dir.safetensors: is a directory, not a file' $m info m/dir.safetensors
bad model_empty 1 'empty file' 'mnist: m/empty.safetensors: file is too short (0 bytes) for the 8-byte header length: the file is truncated, or not a .safetensors file' $m info m/empty.safetensors
bad model_cut 1 'file cut after 300 bytes' 'mnist: m/cut.safetensors: header length 368 is beyond the end of the file (300 bytes): the file is truncated, or not a .safetensors file' $m eval m/cut.safetensors --data d/good
bad model_idx 1 'a data file given as the model' 'mnist: d/good/t10k-labels-idx1-ubyte: header length 1441151880775860224 is beyond the end of the file (28 bytes): the file is truncated, or not a .safetensors file' $m info d/good/t10k-labels-idx1-ubyte
bad model_bighdr 1 'header length of 20 MiB' 'mnist: m/bighdr.safetensors: header length 20971520 is over the limit of 16777216 bytes' $m info m/bighdr.safetensors
bad model_json 1 'header is not JSON' "mnist: m/notjson.safetensors: header is not valid JSON: string or '}' expected near 'not' (line 1, column 4, byte 4)" $m info m/notjson.safetensors
bad model_array 1 'header is a JSON array' 'mnist: m/array.safetensors: header is not a JSON object' $m info m/array.safetensors
bad model_nometa 1 'a .safetensors file from elsewhere (no metadata)' 'mnist: m/nometa.safetensors: not an mnist.c model (metadata lacks format_version)' $m info m/nometa.safetensors
bad model_version 1 'format_version 2' 'mnist: m/version.safetensors: model format version 2 is not supported (this is version 1)' $m info m/version.safetensors
bad model_shape 1 'input_shape "[1,28]"' 'mnist: m/shape.safetensors: input_shape "[1,28]" is not [C,H,W]' $m info m/shape.safetensors
bad model_spec 1 'bad spec in the metadata' 'mnist: m/spec.safetensors: model spec "conv:4:5,rleu,dense:10": layer 2 "rleu": unknown layer (expected conv, pool, dense, relu, bn, dropout or flatten)' $m info m/spec.safetensors
bad model_bigspec 1 'spec needing 50 M parameters in a 31 KB file' 'mnist: m/bigspec.safetensors: spec "conv:64:5,relu,dense:1000,dense:10" needs 50188674 parameters but the file holds only 7850 values' $m info m/bigspec.safetensors
bad model_hugeinput 1 'input_shape [4096,4096,4096]' 'mnist: m/hugeinput.safetensors: model input 4096x4096x4096 is too large (at most 2^26 values)' $m info m/hugeinput.safetensors
bad model_preprocess 1 'preprocess "width:99" for 28-pixel images' 'mnist: m/preprocess.safetensors: preprocessing "width:99": expected width:N with N from 1 to 28 (the image width)' $m info m/preprocess.safetensors
bad model_dtype 1 'F16 tensor' 'mnist: m/dtype.safetensors: tensor "fc.weight": dtype "F16" is not supported (only F32)' $m info m/dtype.safetensors
bad model_tshape 1 'weight transposed' 'mnist: m/tshape.safetensors: tensor fc.weight has shape [784,10] but spec "dense:10" needs [10,784]' $m info m/tshape.safetensors
bad model_tmissing 1 'tensor missing' 'mnist: m/missing.safetensors: tensor fc.weight is missing' $m info m/missing.safetensors
bad model_overlap 1 'two tensors share bytes' 'mnist: m/overlap.safetensors: tensor "fc.weight" overlaps the previous tensor (byte 0)' $m info m/overlap.safetensors
bad model_bnvar 1 'a bn running variance below 0' 'mnist: m/bnvar.safetensors: tensor bn.running_var holds -1 at 2 (a variance must be a number >= 0)' $m info m/bnvar.safetensors
bad model_trailing 1 '4 bytes after the last tensor' 'mnist: m/trailing.safetensors: data area not covered exactly: tensors end at byte 31400 but the data area has 31404 bytes' $m info m/trailing.safetensors
bad model_resume 1 'a model file given to `--resume`' 'mnist: m.safetensors: not a checkpoint (a model file? train with --checkpoint to make one)' $m train --resume m.safetensors --data d/good
bad model_predict8 1 'an 8x8 model given to `predict`' 'mnist: m8.safetensors takes 1x8x8 inputs; predict makes 28x28 grey images' $m predict m8.safetensors i/one.png

section 'Images (`predict`)'
bad image_missing 1 'file does not exist' 'mnist: i/none.png: cannot open: No such file or directory' $m predict m.safetensors i/none.png
bad image_text 1 'a text file' 'mnist: i/notes.txt: not a PNG, JPEG or PGM/PPM image' $m predict m.safetensors i/notes.txt
bad image_empty 1 'empty file' 'mnist: i/empty.png: empty file, not an image' $m predict m.safetensors i/empty.png
bad image_cut 1 'PNG cut after 60 bytes' 'mnist: i/cut.png: truncated PNG (the file ends early)' $m predict m.safetensors i/cut.png
bad image_jpeg 1 'JPEG with no image data' 'mnist: i/bad.jpg: truncated JPEG (the file ends early)' $m predict m.safetensors i/bad.jpg
bad image_wide 1 'PNG 9000 pixels wide' 'mnist: i/wide.png: PNG image is 9000x10, over the limit of 8192 pixels a side' $m predict m.safetensors i/wide.png
bad image_huge 1 'PGM header claiming 100000x100000' 'mnist: i/huge.pgm: PGM/PPM width is over the limit of 8192' $m predict m.safetensors i/huge.pgm
bad image_short 1 'PGM with too few pixels' 'mnist: i/short.pgm: truncated PGM: too few pixels (100 of 400 bytes for 20x20)' $m predict m.safetensors i/short.pgm
bad image_zero 1 'PGM of width 0' 'mnist: i/zero.pgm: bad PGM: zero size (0x5)' $m predict m.safetensors i/zero.pgm
bad image_blank 1 'blank paper, no digit' 'mnist: i/blank.png: no ink found (the image is blank)' $m predict m.safetensors i/blank.png

section 'Model specs (`train --model`)'
bad spec_empty 1 'empty spec' 'mnist: model spec is empty (use a preset such as softmax or cnn, or layers such as conv:32:5,relu,pool:2,dense:10)' $m train --data d/good --model '' --out t.safetensors
bad spec_unknown 1 'misspelt layer' 'mnist: model spec "conv:4:5,rleu,dense:10": layer 2 "rleu": unknown layer (expected conv, pool, dense, relu, bn, dropout or flatten)' $m train --data d/good --model conv:4:5,rleu,dense:10 --out t.safetensors
bad spec_last 1 'no dense layer at the end' 'mnist: model spec "conv:32:5,relu": the last layer must be dense:CLASSES' $m train --data d/good --model conv:32:5,relu --out t.safetensors
bad spec_number 1 'kernel size not a number' 'mnist: model spec "conv:32:x,relu,dense:10": layer 1 "conv:32:x": kernel size must be a whole number from 1 to 64' $m train --data d/good --model conv:32:x,relu,dense:10 --out t.safetensors
bad spec_big 1 'more than 2^30 parameters' 'mnist: model spec "conv:65536:64,conv:65536:64,dense:10": layer 2 "conv:65536:64": the model has more than 2^30 parameters' $m train --data d/good --model conv:65536:64,conv:65536:64,dense:10 --out t.safetensors
bad spec_window 1 'pool window larger than the image' 'mnist: model spec "pool:64,dense:10": layer 1 "pool:64": the pool window is larger than its input' $m train --data d/good --model pool:64,dense:10 --out t.safetensors
bad spec_classes 1 'one output class' 'mnist: model spec "dense:1": the last layer must have 2 to 256 outputs' $m train --data d/good --model dense:1 --out t.safetensors
bad spec_comma 1 'two commas' 'mnist: model spec "dense:10,,dense:10": empty layer (two commas, or a comma at an end)' $m train --data d/good --model dense:10,,dense:10 --out t.safetensors
bad spec_dropout 1 'dropout of 1' 'mnist: model spec "dropout:1,dense:10": layer 1 "dropout:1": expected dropout:P with 0 <= P < 1' $m train --data d/good --model dropout:1,dense:10 --out t.safetensors
bad spec_control 1 'control characters in the spec' 'mnist: model spec "dense:10,rel\x0au,dense:10": layer 2 "rel\x0au": unknown layer (expected conv, pool, dense, relu, bn, dropout or flatten)' $m train --data d/good --model "$(printf 'dense:10,rel\nu,dense:10')" --out t.safetensors

section 'Command line'
bad cli_command 2 'unknown command' "mnist: unknown command 'fly' (try mnist --help)" $m fly
bad cli_option +usage 'unknown option' "train: unrecognized option '--fast'" $m train --fast
bad cli_extra 2 'extra argument' "mnist: train: unexpected argument 'extra' (see mnist train --help)" $m train extra
bad cli_batch 2 '`--batch 0`' "mnist: --batch: '0' is not a whole number from 1 to 65536" $m train --batch 0
bad cli_lr 2 '`--lr fast`' "mnist: --lr: 'fast' is not a number from 1e-12 to 100" $m train --lr fast
bad cli_preprocess 1 '`--preprocess blur`' 'mnist: --preprocess: preprocessing "blur" is not known (expected none, deskew or width:N)' $m train --data d/good --preprocess blur --out t.safetensors
bad cli_maxbytes 2 '`--max-bytes 1`' "mnist: --max-bytes: '1' is not a whole number from 16 to 1099511627776" $m eval m.safetensors --max-bytes 1
bad cli_optimizer 2 '`--optimizer rmsprop`' "mnist: --optimizer: 'rmsprop' is not sgd, momentum or adam" $m train --optimizer rmsprop
bad cli_split 2 '`--split dev`' "mnist: --split: 'dev' is not test, train or val:N" $m eval m.safetensors --split dev
bad cli_split_val 2 '`--split val:x`' "mnist: --split val: 'x' is not a whole number from 1 to 100000000" $m eval m.safetensors --split val:x
bad cli_split_val_size 1 '`--split val:N` with N at least the training set' 'mnist: --split val:20: the training set has only 20 images' $m eval m.safetensors --data d/good --split val:20
bad cli_eval 2 '`eval` without a model' 'mnist: eval: which model file? (usage: mnist eval MODEL [MODEL...])' $m eval
bad cli_predict 2 '`predict` without an image' 'mnist: predict: give a model and at least one image (usage: mnist predict MODEL IMAGE...)' $m predict m.safetensors
bad cli_info 2 '`info` with two files' "mnist: info: unexpected argument 'b' (see mnist info --help)" $m info a b
bad cli_out 1 '`--out` in a missing directory (checked before training)' 'mnist: nodir/model.safetensors: cannot create: No such file or directory' $m train --data d/good --out nodir/model.safetensors
bad cli_out_dir 1 '`--out` naming a directory (or a device: never replaced)' 'mnist: d: exists and is not a regular file (give a file name)' $m train --data d/good --out d
bad cli_checkpoint 1 '`--checkpoint` in a missing directory' 'mnist: nodir/ck.safetensors: cannot create: No such file or directory' $m train --data d/good --checkpoint nodir/ck.safetensors --out t.safetensors
bad cli_log 1 '`--log` in a missing directory' 'mnist: nodir/log.csv: cannot write the log: No such file or directory' $m train --data d/good --log nodir/log.csv --out t.safetensors

[ $markdown -eq 1 ] && exit 0
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
