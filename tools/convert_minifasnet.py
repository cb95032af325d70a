"""Convert the two Silent-Face MiniFASNet state dicts to ONNX (run once; the result is committed).

Origin of the weights: minivision-ai/Silent-Face-Anti-Spoofing @b6d5f04a,
``resources/anti_spoof_models/`` (Apache-2.0), handed over in ``../shared/models/silentface``.
The networks are rebuilt here from the *structure of the state dict* (layer names and tensor
shapes), so no upstream code is needed:

* a ``Conv_block`` is conv (no bias) → batch norm → PReLU; a ``Linear_block`` is conv → batch
  norm; a depth-wise unit is 1×1 expand (``conv``) → 3×3 depth-wise (``conv_dw``) → 1×1 linear
  projection (``project``), with an identity shortcut inside the ``Residual`` stacks
  (``conv_3``, ``conv_4``, ``conv_5``) and none in the stride-2 transitions (``conv_23``,
  ``conv_34``, ``conv_45``);
* a unit that has ``se_module`` keys applies squeeze-excitation after the projection
  (global mean → 1×1 conv → BN → ReLU → 1×1 conv → BN → sigmoid, multiplied in);
* the head is a 1×1 conv to 512, a 5×5 depth-wise ``Linear_block`` (80 / 16 = 5 cells),
  flatten, a bias-free linear layer to 128, batch norm, and the bias-free 3-class ``prob``.

Strides: ``conv1`` and the three transitions are stride 2 (80 → 40 → 20 → 10 → 5), all
others stride 1; 3×3 kernels have padding 1, the 5×5 head none. The exported graph ends in a
softmax, so its output is the three class probabilities (class 1 = real).

Input, as upstream feeds it: an 80×80 crop in **BGR order with raw 0–255 values** (no
scaling), NCHW float32.

    .venv/bin/python tools/convert_minifasnet.py [--src ../shared/models/silentface] [--out DIR]

Needs torch (dev only: ``scripts/install.sh --dev``) and writes the ``.onnx`` files and
prints their SHA-256 for ``src/faceproof/models/manifest.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
SOURCES = {
    # onnx name: (state dict file, sha256 of that file)
    "MiniFASNetV2_2.7_80x80.onnx": (
        "2.7_80x80_MiniFASNetV2.pth",
        "a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0",
    ),
    "MiniFASNetV1SE_4.0_80x80.onnx": (
        "4_0_0_80x80_MiniFASNetV1SE.pth",
        "84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990",
    ),
}
OPSET = 17
INPUT_SIZE = 80

StateDict = Mapping[str, torch.Tensor]


class ConvBN(nn.Module):
    """conv (no bias) → batch norm → optional PReLU; shapes from the state dict."""

    def __init__(self, sd: StateDict, prefix: str, stride: int, act: bool) -> None:
        super().__init__()
        w = sd[f"{prefix}.conv.weight"]
        out_c, in_per_group, k, _ = w.shape
        groups = out_c if in_per_group == 1 and out_c > 1 and k > 1 else 1
        in_c = in_per_group * groups
        pad = 1 if k == 3 else 0
        self.conv = nn.Conv2d(in_c, out_c, k, stride, pad, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_c)
        self.prelu = nn.PReLU(out_c) if act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.prelu is not None else x


class SqueezeExcite(nn.Module):
    def __init__(self, sd: StateDict, prefix: str) -> None:
        super().__init__()
        red, ch = sd[f"{prefix}.fc1.weight"].shape[:2]
        self.fc1 = nn.Conv2d(ch, red, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(red)
        self.fc2 = nn.Conv2d(red, ch, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)
        s = torch.relu(self.bn1(self.fc1(s)))
        return x * torch.sigmoid(self.bn2(self.fc2(s)))


class DepthWiseUnit(nn.Module):
    """1×1 expand → 3×3 depth-wise → 1×1 projection (+ SE) (+ identity shortcut)."""

    def __init__(self, sd: StateDict, prefix: str, stride: int, residual: bool) -> None:
        super().__init__()
        self.conv = ConvBN(sd, f"{prefix}.conv", 1, act=True)
        self.conv_dw = ConvBN(sd, f"{prefix}.conv_dw", stride, act=True)
        self.project = ConvBN(sd, f"{prefix}.project", 1, act=False)
        has_se = f"{prefix}.se_module.fc1.weight" in sd
        self.se_module = SqueezeExcite(sd, f"{prefix}.se_module") if has_se else None
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.conv_dw(self.conv(x)))
        if self.se_module is not None:
            y = self.se_module(y)
        return x + y if self.residual else y


class ResidualStack(nn.Module):
    def __init__(self, sd: StateDict, prefix: str) -> None:
        super().__init__()
        n = 1 + max(int(m.group(1)) for k in sd if (m := re.match(rf"{prefix}\.model\.(\d+)\.", k)))
        self.model = nn.Sequential(
            *(DepthWiseUnit(sd, f"{prefix}.model.{i}", 1, residual=True) for i in range(n))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MiniFASNet(nn.Module):
    """MiniFASNetV2 / MiniFASNetV1SE, whichever the state dict describes (80×80 input)."""

    def __init__(self, sd: StateDict) -> None:
        super().__init__()
        self.conv1 = ConvBN(sd, "conv1", 2, act=True)
        self.conv2_dw = ConvBN(sd, "conv2_dw", 1, act=True)
        self.conv_23 = DepthWiseUnit(sd, "conv_23", 2, residual=False)
        self.conv_3 = ResidualStack(sd, "conv_3")
        self.conv_34 = DepthWiseUnit(sd, "conv_34", 2, residual=False)
        self.conv_4 = ResidualStack(sd, "conv_4")
        self.conv_45 = DepthWiseUnit(sd, "conv_45", 2, residual=False)
        self.conv_5 = ResidualStack(sd, "conv_5")
        self.conv_6_sep = ConvBN(sd, "conv_6_sep", 1, act=True)
        self.conv_6_dw = ConvBN(sd, "conv_6_dw", 1, act=False)
        emb, feat = sd["linear.weight"].shape
        self.linear = nn.Linear(feat, emb, bias=False)
        self.bn = nn.BatchNorm1d(emb)
        self.prob = nn.Linear(emb, sd["prob.weight"].shape[0], bias=False)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        for layer in (self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34):
            x = layer(x)
        for layer in (self.conv_4, self.conv_45, self.conv_5, self.conv_6_sep, self.conv_6_dw):
            x = layer(x)
        return self.prob(self.bn(self.linear(torch.flatten(x, 1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)


def load_state_dict(path: Path, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """The weights with any ``module.`` prefix removed (checked against ``sha256``)."""
    raw = path.read_bytes()
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise SystemExit(f"{path}: sha256 differs from the documented digest")
    sd: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    return {k.removeprefix("module."): v for k, v in sd.items()}


def build(path: Path, sha256: str | None = None) -> MiniFASNet:
    """The network of one state-dict file, weights loaded (strictly), in eval mode."""
    sd = load_state_dict(path, sha256)
    net = MiniFASNet(sd)
    net.load_state_dict(sd, strict=True)
    return net.eval()


def export(net: MiniFASNet, out: Path) -> str:
    dummy = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    with torch.no_grad():
        torch.onnx.export(
            net,
            (dummy,),
            str(out),
            input_names=["input"],
            output_names=["probabilities"],
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--src", type=Path, default=REPO.parent / "shared" / "models" / "silentface")
    ap.add_argument(
        "--out", type=Path, default=REPO / "src" / "faceproof" / "models" / "minifasnet"
    )
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for name, (pth, digest) in SOURCES.items():
        net = build(args.src / pth, digest)
        sha = export(net, args.out / name)
        size = (args.out / name).stat().st_size
        print(f"{name}  sha256 {sha}  size {size}  (from {pth})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
