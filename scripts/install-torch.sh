#!/bin/sh
# Installs what test/fixtures/torch/generate.py needs: Debian's PyTorch (1.13) and ONNX for the
# system python (/usr/bin/python3). Only needed to regenerate the committed torch fixtures;
# the parity test itself (test/autodiff/torch-parity.test.ts) reads the committed files.
set -eu
apt-get update
apt-get install -y python3-torch python3-onnx libopenblas0-openmp
/usr/bin/python3 -c 'import torch, onnx; print("torch", torch.__version__, "onnx", onnx.__version__)'
