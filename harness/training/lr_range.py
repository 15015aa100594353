"""The seed's LR range test: raise the LR exponentially, watch the loss, suggest the steepest descent.

The plot is a small hand-written SVG (loss against LR on a log axis), so no
plotting library is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch


@dataclass
class RangeTest:
    lrs: list[float]
    losses: list[float]  # exponentially smoothed
    suggested_lr: float


def lr_range_test(model: Any, batches: Sequence[dict[str, torch.Tensor]], *, start_lr: float = 1e-7,
                  end_lr: float = 1e-1, steps: int = 100, smoothing: float = 0.05,
                  autocast_bf16: bool = False) -> RangeTest:
    """Train for ``steps`` batches with an exponentially rising LR; stop once the loss explodes."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=start_lr)
    ratio = (end_lr / start_lr) ** (1 / max(1, steps - 1))
    model.train()
    lrs, losses, avg, best = [], [], None, math.inf
    device = next(model.parameters()).device
    for step in range(steps):
        lr = start_lr * ratio ** step
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = {k: v.to(device) for k, v in batches[step % len(batches)].items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast_bf16):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        avg = value if avg is None else smoothing * value + (1 - smoothing) * avg
        lrs.append(lr)
        losses.append(avg)
        best = min(best, avg)
        if avg > 4 * best and step > 10:
            break
    return RangeTest(lrs, losses, suggest(lrs, losses))


def suggest(lrs: Sequence[float], losses: Sequence[float]) -> float:
    """The LR where the smoothed loss falls fastest per decade of LR (ignoring the noisy ends)."""
    if len(lrs) < 3:
        return lrs[0] if lrs else float("nan")
    trim = max(1, len(lrs) // 10)
    best_i, best_slope = trim, math.inf
    for i in range(trim, len(lrs) - 1):
        slope = (losses[i + 1] - losses[i - 1]) / (math.log10(lrs[i + 1]) - math.log10(lrs[i - 1]))
        if slope < best_slope:
            best_i, best_slope = i, slope
    return lrs[best_i]


def write_svg(result: RangeTest, path: Path, title: str = "LR range test") -> Path:
    """Loss against LR (log axis) as an SVG, with the suggested LR marked."""
    width, height, pad = 640, 400, 60
    xs = [math.log10(lr) for lr in result.lrs]
    lo_x, hi_x = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    lo_y, hi_y = min(result.losses), max(result.losses)
    hi_y = hi_y if hi_y > lo_y else lo_y + 1

    def px(x: float) -> float:
        return pad + (x - lo_x) / (hi_x - lo_x) * (width - 2 * pad)

    def py(y: float) -> float:
        return height - pad - (y - lo_y) / (hi_y - lo_y) * (height - 2 * pad)

    points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, result.losses))
    ticks = []
    for decade in range(math.floor(lo_x), math.ceil(hi_x) + 1):
        if lo_x <= decade <= hi_x:
            x = px(decade)
            ticks.append(f'<line x1="{x:.1f}" y1="{height - pad}" x2="{x:.1f}" y2="{height - pad + 5}" stroke="black"/>'
                         f'<text x="{x:.1f}" y="{height - pad + 20}" font-size="12" text-anchor="middle">1e{decade}</text>')
    for i in range(5):
        y_val = lo_y + (hi_y - lo_y) * i / 4
        ticks.append(f'<text x="{pad - 8}" y="{py(y_val) + 4:.1f}" font-size="12" text-anchor="end">{y_val:.3g}</text>')
    sx = px(math.log10(result.suggested_lr))
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="{width / 2}" y="24" font-size="16" text-anchor="middle">{title}</text>
<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>
{''.join(ticks)}
<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="2"/>
<line x1="{sx:.1f}" y1="{pad}" x2="{sx:.1f}" y2="{height - pad}" stroke="#d62728" stroke-dasharray="4 3"/>
<text x="{sx + 4:.1f}" y="{pad + 12}" font-size="12" fill="#d62728">suggested {result.suggested_lr:.2e}</text>
<text x="{width / 2}" y="{height - 15}" font-size="13" text-anchor="middle">learning rate (log scale)</text>
<text x="15" y="{height / 2}" font-size="13" transform="rotate(-90 15 {height / 2})" text-anchor="middle">smoothed loss</text>
</svg>
"""
    path.write_text(svg, encoding="utf-8")
    return path
