"""Self-check of lesson 04 (augmentation with OpenCV): every bug shown, every fix working, the effect measured.

The lesson passes what it observed: offsets and flips counted, outputs of the rotations, the
frequencies of ``p`` and of the colour-jitter order, two seeded batches, the names of the
digit augmentation's transforms and the final accuracies of each framework's experiment.
Frequencies are judged with binomial bounds of 5 standard deviations (a false alarm about
once in 3.5 million runs), so a correct lesson never fails by chance.
"""

from __future__ import annotations

import numpy as np

from rtxcourse.course.checks import Claims

SHIFTS = ("clean", "in-family", "unseen")  # the experiment's three test sets, in this order


def _binomial_ok(count, n, q) -> bool:
    return abs(count - n * q) <= 5 * np.sqrt(n * q * (1 - q)) + 1e-9


def check(*, blog_crop_counts, our_crop_counts, blog_full_crop_error, seed_crop, flips, rotations,
          probability, jitter_first, batches, digit_transforms, experiment) -> None:
    """Check lesson 04's claims from its evidence; raise AssertionError naming each one that fails.

    * ``blog_crop_counts`` / ``our_crop_counts``: how often each top offset 0..k-1 was drawn;
      ``blog_full_crop_error``: the error text of the seed's crop at full size (None: no error).
    * ``seed_crop``: ``{"image_hw", "crop", "max_top", "max_left", "shapes"}`` of the seed's crop
      on a wide image (largest row and column offsets drawn, the crop shapes).
    * ``flips``: ``{"n", "p", "blog", "ours"}``: calls and how many of them flipped.
    * ``rotations``: ``{"n", "blog_distinct", "ours_distinct", "original_black", "constant_black",
      "reflect_black"}``: distinct outputs of n calls and fractions of black pixels.
    * ``probability``: ``{"n", "p", "applied"}``: calls of a transform with ``p`` and how many applied.
    * ``jitter_first``: ``{change name: how often it came first}`` over calls of a full ColorJitter.
    * ``batches``: ``(seed_a, seed_a_again, seed_b)``: three batches of one chain.
    * ``digit_transforms``: class names in the digit augmentation.
    * ``experiment``: ``{framework: {"without": (seeds, 3), "with": (seeds, 3)}}`` final test
      accuracies on the clean, in-family and unseen test sets; only frameworks that ran.
    """
    with Claims("Lesson 04") as c:
        blog, ours = np.asarray(blog_crop_counts), np.asarray(our_crop_counts)
        c.check(blog[-1] == 0 and blog[:-1].min() > 0, "the seed's crop never draws the last offset",
                f"counts per offset {blog.tolist()}")
        n, k = int(ours.sum()), len(ours)
        c.check(len(blog) == k and all(_binomial_ok(int(x), n, 1 / k) for x in ours),
                "ours draws every offset, the last included, equally often (5 sd)", f"counts {ours.tolist()}")
        c.check(blog_full_crop_error is not None, "the seed's crop crashes when the crop equals the image",
                str(blog_full_crop_error))

        (h, w), cs = seed_crop["image_hw"], seed_crop["crop"]
        c.check(seed_crop["max_top"] <= h - cs and seed_crop["max_left"] > h - cs
                and all(tuple(s[:2]) == (cs, cs) for s in seed_crop["shapes"]),
                "the seed's x is the row offset (bounded by the height), y the column: no swap in its code",
                f"largest row offset {seed_crop['max_top']} (limit {h - cs}), largest column offset "
                f"{seed_crop['max_left']} on a {h}x{w} image")

        c.check(flips["blog"] == flips["n"], "the seed's 'random' flip flips every time",
                f"{flips['blog']} of {flips['n']}")
        c.check(_binomial_ok(flips["ours"], flips["n"], flips["p"]), "ours flips with probability p (5 sd)",
                f"{flips['ours']} of {flips['n']} at p={flips['p']}")

        r = rotations
        c.check(r["blog_distinct"] == 1 and r["ours_distinct"] == r["n"],
                "the seed rotates by one fixed angle, ours by a new angle each call",
                f"distinct outputs of {r['n']} calls: seed {r['blog_distinct']}, ours {r['ours_distinct']}")
        c.check(r["constant_black"] > r["original_black"] + 0.02 and r["reflect_black"] <= r["original_black"] + 0.005,
                "a constant border adds black corners, reflection adds none (it mirrors content instead)",
                f"black pixels: original {r['original_black']:.1%}, constant {r['constant_black']:.1%}, "
                f"reflect {r['reflect_black']:.1%}")

        pr = probability
        c.check(_binomial_ok(pr["applied"], pr["n"], pr["p"]), "a transform with p is applied to a fraction p (5 sd)",
                f"{pr['applied']} of {pr['n']} at p={pr['p']}")
        m = sum(jitter_first.values())
        c.check(len(jitter_first) == 4 and all(_binomial_ok(v, m, 0.25) for v in jitter_first.values()),
                "colour jitter draws a new order each call: each change comes first a quarter of the time",
                ", ".join(f"{k} {v}" for k, v in jitter_first.items()))

        a, a2, b = (np.asarray(x) for x in batches)
        c.check(np.array_equal(a, a2) and not np.array_equal(a, b), "the same seed gives the same batch, another seed another",
                f"batch {a.shape}")
        c.check("RandomFlip" not in digit_transforms, "the digit augmentation keeps labels: no flips",
                ", ".join(digit_transforms))

        c.check(bool(experiment), "the augmentation experiment ran in at least one framework", ", ".join(experiment))
        for fw, res in experiment.items():
            without, with_ = np.asarray(res["without"]), np.asarray(res["with"])
            gain = with_.mean(0) - without.mean(0)
            spread = np.maximum(np.ptp(with_, 0), np.ptp(without, 0))
            c.check(min(without[:, 0].mean(), with_[:, 0].mean()) > 0.8, f"{fw}: both models learned the digits",
                    f"clean accuracy {without[:, 0].mean():.3f} without, {with_[:, 0].mean():.3f} with")
            c.check(gain[1] > max(0.05, spread[1]), f"{fw}: on in-family shifts (what the augmentation draws) it helps "
                    "by more than the seed spread", f"gain {gain[1]:+.3f}, spread {spread[1]:.3f}")
            c.check(gain[2] > 0.02, f"{fw}: on an unseen shift (shear, never drawn in training) it still helps",
                    f"gain {gain[2]:+.3f}, spread {spread[2]:.3f}")
            c.check(gain[0] > -0.05, f"{fw}: it costs at most a little on clean digits", f"gain {gain[0]:+.3f}")
