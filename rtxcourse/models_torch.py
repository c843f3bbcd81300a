"""The course's small PyTorch models (twins of rtxcourse.models_tf), for lessons and benchmarks.

All return logits (no softmax): the loss (``nn.CrossEntropyLoss``) applies log-softmax itself,
in float32 under autocast, which is both faster and numerically safer.
"""

from __future__ import annotations

import torch
from torch import nn

from rtxcourse.validate import positive_ints


class MLP(nn.Module):
    """Flatten -> [Linear -> ReLU] * len(hidden) -> Linear(num_classes)."""

    def __init__(self, in_features: int, hidden: tuple[int, ...] = (512,), num_classes: int = 10):
        super().__init__()
        positive_ints(in_features=in_features, num_classes=num_classes, **{f"hidden[{i}]": h for i, h in enumerate(hidden)})
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    # bias=False: the BatchNorm that follows has its own shift, a bias would be redundant.
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    """Three conv stages (width, 2*width, 4*width channels), each two 3x3 convs and a 2x2 pool.

    Channel counts are multiples of 8 when ``width`` is, which Tensor Cores need for fp16/bf16.
    Works for any input size of at least 8x8 (global average pooling at the end).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 32):
        super().__init__()
        positive_ints(in_channels=in_channels, num_classes=num_classes, width=width)
        w = width
        self.features = nn.Sequential(
            _conv_block(in_channels, w), _conv_block(w, w), nn.MaxPool2d(2),
            _conv_block(w, 2 * w), _conv_block(2 * w, 2 * w), nn.MaxPool2d(2),
            _conv_block(2 * w, 4 * w), _conv_block(4 * w, 4 * w), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"SmallCNN expects (N, C, H, W) images, got shape {tuple(x.shape)}")
        return self.head(torch.flatten(self.features(x), 1))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d_model: int = 256, n_heads: int = 4, mlp_ratio: int = 4):
        super().__init__()
        positive_ints(d_model=d_model, n_heads=n_heads, mlp_ratio=mlp_ratio)
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d_model, mlp_ratio * d_model), nn.GELU(), nn.Linear(mlp_ratio * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class TransformerClassifier(nn.Module):
    """Float sequences (B, T, d_model) -> learned positions -> n_layers blocks -> mean -> logits."""

    def __init__(self, seq_len: int = 64, d_model: int = 256, n_heads: int = 4, n_layers: int = 2, num_classes: int = 10):
        super().__init__()
        positive_ints(seq_len=seq_len, n_layers=n_layers, num_classes=num_classes)
        self.pos = nn.Parameter(torch.zeros(1, seq_len, d_model))
        self.blocks = nn.Sequential(*[TransformerBlock(d_model, n_heads) for _ in range(n_layers)])
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1:] != self.pos.shape[1:]:
            raise ValueError(f"expected input (B, {self.pos.shape[1]}, {self.pos.shape[2]}), got {tuple(x.shape)}")
        return self.head(self.ln(self.blocks(x + self.pos)).mean(dim=1))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
