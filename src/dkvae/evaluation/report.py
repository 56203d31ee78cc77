"""An evaluation report folder: ``metrics.json`` (every number) and ``report.md`` (the tables, linking the figures)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from dkvae.core.atomic import write_text
from dkvae.core.errors import DkvaeError
from dkvae.evaluation.reconstruction import RECONSTRUCTION_METRICS, STAGES
from dkvae.evaluation.scores import GENERATION_METRICS, PER_CLASS_METRICS, SETS
from dkvae.measures.metrics import BETTER

METRICS_NAME = "metrics.json"
REPORT_NAME = "report.md"
FORMAT = "dkvae-evaluation"
FORMAT_VERSION = 1
#: Figure files in a report folder.
LATENT_FIGURE = "latent_map.png"
GENERATED_FIGURE = "generated.png"
RECONSTRUCTION_FIGURE = "reconstructions.png"
TRAINING_FIGURE = "training.png"

#: How each metric is named in tables.
TITLES = {
    "spectral_convergence": "spectral convergence",
    "log_spectral_distance": "log-spectral distance (dB)",
    "multi_resolution_stft_distance": "multi-resolution STFT distance",
    "onset_peak_ratio": "onset peak ratio",
    "log_mel_distance": "log-mel distance (dB)",
    "attack_share_ratio": "attack share / original's",
    "accuracy": "conditional accuracy",
    "inception_score": "Inception Score",
    "frechet_distance_classifier": "Fréchet distance (classifier)",
    "kid_classifier": "KID (classifier)",
    "frechet_distance_mel": "Fréchet distance (MFCC statistics)",
    "kid_mel": "KID (MFCC statistics)",
    "ndb_fraction": "NDB / bins",
    "diversity_ratio": "diversity / real",
    "novelty_ratio": "nearest-training distance / real",
    "copy_fraction": "share of near copies",
}
STAGE_TITLES = {"spectrogram": "before inversion", "audio": "after inversion", "inversion": "inversion alone"}
SET_TITLES = {"noise": "noise floor", "model": "model", "real": "real ceiling"}
SOURCE_TITLES = {"train": "train vs test", "test": "test split", "val": "val split"}
BETTER_TITLES = {"lower": "lower", "higher": "higher", "one": "nearer 1", "none": "(diagnostic)"}


def json_safe(value: Any) -> Any:
    """`value` with nan and infinities as None and numpy scalars as Python numbers, so it is valid JSON."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(metrics: dict[str, Any], out: Path) -> None:
    """Write ``metrics.json`` and ``report.md`` into the folder `out`, each atomically."""
    write_text(out / METRICS_NAME, json.dumps(json_safe(metrics), indent=2, sort_keys=False))
    write_text(out / REPORT_NAME, render_markdown(json_safe(metrics)))


def read_metrics(report_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``metrics.json`` of a report folder; a missing or foreign one raises `DkvaeError`."""
    path = Path(report_dir) / METRICS_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DkvaeError(
            f"{report_dir} is not an evaluation report (no {METRICS_NAME}); run dkvae evaluate first"
        ) from None
    except (OSError, ValueError) as error:
        raise DkvaeError(f"{path} is unreadable: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DkvaeError(f"{path} is not a dkvae evaluation report")
    return document


def format_value(value: float | None) -> str:
    """A number for a table: 4 significant digits, one decimal from 1000 up, an en dash for none."""
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.1f}" if abs(value) >= 1000 else f"{value:.4g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def judge_seed(settings: dict[str, Any]) -> int:
    """The seed of what a report's sounds were measured against (judging classifier, NDB bins, ceiling and floor);
    reports older than the setting used `seed` for them."""
    return int(settings.get("judge_seed", settings["seed"]))


def _inversion_sentence(settings: dict[str, Any]) -> str:
    """How the sounds were turned to audio, for reports that record it (from 2026-12-05)."""
    inversion = settings.get("inversion")
    if not inversion:
        return ""
    return f"Inversion: {inversion['method']}, {inversion['iterations']} iterations. "


def _conditioning(model: dict[str, Any]) -> str:
    """How the model is told a class: its decoder, a prior in front of an unconditional decoder, or not at all."""
    if model["conditional"]:
        return "conditional"
    return "unconditional decoder, class-conditional prior" if model.get("generates_by_class") else "unconditional"


def render_markdown(metrics: dict[str, Any]) -> str:
    """report.md's text from a (JSON-safe) metrics document."""
    model, bank, settings = metrics["model"], metrics["bank"], metrics["settings"]
    lines = [
        f"# Evaluation of model {model['id']} on bank {bank['id']}",
        "",
        (f"Model: `{model['path']}` ({model['kind']}, latent {model['latent_dim']}, "
        f"{_conditioning(model)}, preset {model['preset']}). "
        f"Bank: `{bank['path']}` ({', '.join(f'{k} {v}' for k, v in bank['sounds'].items())} sounds). "
        f"Generated: {settings['count']} sounds per class, seed {settings['seed']}; judge seed {judge_seed(settings)}. "
        f"{_inversion_sentence(settings)}Written {metrics['created']}."),
        "",
    ]
    no_encoder = [f"A {model['kind']} has no encoder: it cannot reconstruct sounds and has no latent map.", ""]
    lines += _reconstruction_section(metrics["reconstruction"]) if metrics["reconstruction"] else ["## Reconstruction", "", *no_encoder]
    if metrics.get("holdout_reconstruction"):
        lines += _holdout_section(metrics["holdout_reconstruction"])
    lines += _generation_section(metrics["generation"], settings)
    lines += _character_section(metrics["character"]) if metrics.get("character") else []
    lines += _latent_section(metrics["latent"]) if metrics["latent"] else []
    if TRAINING_FIGURE in metrics.get("figures", []):
        lines += ["## Training", "", f"![training curves]({TRAINING_FIGURE})", ""]
    seconds = metrics.get("seconds", {})
    lines += ["## Time", "", ", ".join(f"{stage} {value:.1f} s" for stage, value in seconds.items()), ""]
    return "\n".join(lines)


def _holdout_section(holdout: dict[str, Any]) -> list[str]:
    """The held-out-source protocol: every sound of sources the model never trained on, beside the ceiling."""
    ratio = holdout.get("log_mel_ratio_to_ceiling")
    lines = [
        "## Reconstruction of sources never trained on",
        "",
        (f"Every sound of {', '.join(holdout['sources'])} ({holdout['sounds']} sounds), left out of training and "
         "validation whole; medians over sounds. Log-mel distance: mean absolute difference of 128 mel band levels "
         "(dB, floored 80 dB under the original's loudest band). Attack share: energy of the first 10 ms over the "
         "first 100 ms, rebuilt over original. Inversion alone is the ceiling a perfect model reaches."
         + (f" The model's log-mel distance is {ratio:.2f}x the ceiling's." if ratio else "")),
        "",
    ]  # fmt: skip
    header = ["metric", *(STAGE_TITLES[stage] for stage in STAGES), "better"]
    rows = [
        [TITLES[metric], *(format_value(holdout[stage]["overall"].get(metric)) for stage in STAGES), BETTER_TITLES[BETTER[metric]]]
        for metric in RECONSTRUCTION_METRICS
    ]
    return lines + _table(header, rows) + [""]


def _reconstruction_section(reconstruction: dict[str, Any]) -> list[str]:
    lines = [
        "## Reconstruction",
        "",
        (f"Test split, {reconstruction['sounds']} sounds, each encoded with its class and decoded from its posterior mean; "
        "medians over sounds. Before inversion: the decoded spectrogram against the bank's (the STFT distance at the "
        "model's own resolution). After inversion: the decoded spectrogram as audio against the sound as the bank read it "
        "(STFT distance at n_fft 256, 1024, 4096). Inversion alone: the bank's own spectrogram as audio, the ceiling "
        "for the audio figures. Onset peak ratio: peak spectral flux, rebuilt over original (1 keeps the attack)."),
        "",
    ]
    header = ["metric", *(STAGE_TITLES[stage] for stage in STAGES), "better"]
    rows = [
        [
            TITLES[metric],
            *(format_value(reconstruction[stage]["overall"].get(metric)) for stage in STAGES),
            BETTER_TITLES[BETTER[metric]],
        ]
        for metric in RECONSTRUCTION_METRICS
    ]
    lines += _table(header, rows) + [""]
    for stage in ("spectrogram", "audio"):
        classes = [name for name in reconstruction[stage] if name != "overall"]
        lines += [f"Per class, {STAGE_TITLES[stage]}:", ""]
        rows = [
            [name, *(format_value(reconstruction[stage][name].get(m)) for m in RECONSTRUCTION_METRICS)]
            for name in classes
        ]
        lines += _table(["class", *(TITLES[m] for m in RECONSTRUCTION_METRICS)], rows) + [""]
    if reconstruction.get("unreadable"):
        lines += [
            f"{reconstruction['unreadable']} test sounds could not be read again and are left out of the audio figures.",
            "",
        ]
    return lines + [f"![reconstructions: original, decoded, decoded as heard]({RECONSTRUCTION_FIGURE})", ""]


def _generation_section(generation: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    sizes = generation["sizes"]
    lines = [
        "## Generation",
        "",
        (f"{sizes['model']} generated sounds ({generation['unusable']['model']} unusable), rendered to audio and analysed "
        f"as the bank analyses its sounds; {sizes['noise']} noise bursts as the floor; real sounds as the ceiling "
        f"(the column 'ceiling from' says which). Classifier: `{settings['classifier']}` (trained on the train split). "
        "Sets are compared at the reference's class proportions. Diversity: mean pairwise log-mel distance within a "
        "class over the test split's; novelty: median distance to the nearest training sound over the test split's "
        "(a model copying its training set scores near 0, and its share of near copies near 1)."),
        "",
    ]
    header = ["metric", *(SET_TITLES[name] for name in SETS), "ceiling from", "better"]
    rows = [
        [TITLES[metric], *(format_value(generation["overall"][metric][name]) for name in SETS),
         SOURCE_TITLES[generation["real_source"][metric]], BETTER_TITLES[BETTER[metric]]]
        for metric in GENERATION_METRICS
    ]  # fmt: skip
    lines += _table(header, rows) + ["", "Per class (model / real ceiling / noise floor):", ""]
    rows = [
        [name, *(" / ".join(format_value(scores[m][s]) for s in ("model", "real", "noise")) for m in PER_CLASS_METRICS)]
        for name, scores in generation["per_class"].items()
    ]
    lines += _table(["class", *(TITLES[m] for m in PER_CLASS_METRICS)], rows) + [""]
    return lines + [f"![real (left) and generated spectrograms per class]({GENERATED_FIGURE})", ""]


def _quartile_cell(summary: dict[str, Any]) -> str:
    """``median [q1, q3]`` of one set's figure, or an en dash where it has no values."""
    if summary["median"] is None:
        return "–"
    return f"{format_value(summary['median'])} [{format_value(summary['q1'])}, {format_value(summary['q3'])}]"


def _gap_cell(value: float | None, kind: str, unit: str) -> str:
    """A figure's gap as read: ``×0.42`` for a ratio, ``+3.1 dB`` for a difference."""
    if value is None:
        return "–"
    return f"×{format_value(value)}" if kind == "ratio" else f"{value:+.3g} {unit}"


def _character_section(character: dict[str, Any]) -> list[str]:
    """Each class's character and tail figures, real test sounds beside generated ones, with what each figure means."""
    judged = character["generated_classes"] == "judged"
    lines = [
        "## Class character and tails",
        "",
        ("Per class, the figures that tell its sounds apart (`dkvae.measures.character`) and where its sounds end, "
         "for the test split as the model reads it and for the generated sounds as rendered, both at "
         f"{character['sample_rate']} Hz; median [quartiles] over sounds, and the generated median over the real "
         "one (a share or a count) or less it (any other unit)."
         + (" The model cannot be told a class: its sounds are grouped by the judging classifier's class." if judged else "")
         + (f" {character['unreadable']} test sounds could not be read and are left out." if character.get("unreadable") else "")),
        "",
    ]  # fmt: skip
    figures = character["figures"]
    header = ["class", "figure", "real", "generated", "generated vs real", "unit"]
    rows = [
        [
            name,
            figure,
            _quartile_cell(values["real"]),
            _quartile_cell(values["generated"]),
            _gap_cell(values["gap"], figures[figure]["gap"], figures[figure]["unit"]),
            figures[figure]["unit"],
        ]
        for name, by_figure in character["per_class"].items()
        for figure, values in by_figure.items()
    ]
    lines += _table(header, rows) + [""]
    return lines + [f"- {name} ({figure['unit']}): {figure['meaning']}" for name, figure in figures.items()] + [""]


def _latent_section(latent: dict[str, Any]) -> list[str]:
    lines = [
        "## Latent space",
        "",
        (f"{latent['active_dimensions']} of {latent['latent_dim']} latent dimensions in use (posterior means varying "
        f"with a variance above {latent['active_variance']} over the test split; Burda et al. 2016). A conditional "
        "model is told the class apart from the latent, so classes need not separate on the map."),
    ]
    kl = latent.get("kl_per_dimension")
    if kl is not None:
        ranked = sorted(enumerate(kl), key=lambda item: -(item[1] or 0.0))
        lines += [
            "KL from the prior per dimension (nats), largest first: "
            + ", ".join(f"z{i} {format_value(v)}" for i, v in ranked)
            + "."
        ]
    return lines + ["", f"![latent map of the test split]({LATENT_FIGURE})", ""]
