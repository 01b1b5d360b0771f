"""The bad inputs a user can give each console command, and the files they need, for the generated table of errors.

Each `Case` is one kind of mistake typed as a user types it; `{d}` stands for the folder `write_inputs` fills and
`{run}` for a fresh run directory. `fragment` must appear in the one-line error. A `volatile` case's message comes
from code whose wording changes in parallel (eval, serve, cold start, the list of presets): the table shows it but the
check compares only its exit status, the absence of a traceback and the fragment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image


@dataclass(frozen=True)
class Case:
    """One bad input: the command line (after `rethinker`), what is wrong, and a fragment of the expected error."""

    kind: str
    args: tuple[str, ...]
    fragment: str
    volatile: bool = False

    @property
    def command(self) -> str:
        """The sub-command the case runs."""
        return self.args[0] if self.args else ""


def _train(kind: str, fragment: str, *overrides: str) -> Case:
    return Case(kind, ("train", "tiny", "run_dir={run}", "train.steps=1", *overrides), fragment)


def _train_data(kind: str, file: str, fragment: str, *overrides: str) -> Case:
    return _train(kind, fragment, "data.source=file", f"data.path={{d}}/{file}", *overrides)


def _sft(kind: str, fragment: str, *overrides: str) -> Case:
    return Case(kind, ("sft", "sft-tiny", "run_dir={run}", "train.steps=1", *overrides), fragment)


def _sft_data(kind: str, file: str, fragment: str) -> Case:
    return _sft(kind, fragment, "data.source=file", f"data.path={{d}}/{file}")


def _passrate(kind: str, fragment: str, *flags: str, data: str = "good.jsonl") -> Case:
    return Case(
        kind, ("passrate", "--model", "tiny", "--data", f"{{d}}/{data}", "--out", "{run}/out.jsonl", *flags), fragment
    )


def _eval(kind: str, fragment: str, *flags: str) -> Case:
    return Case(kind, ("eval", *flags, "--out", "{run}"), fragment, volatile=True)


def _score(kind: str, fragment: str, *flags: str) -> Case:
    return Case(kind, ("score", *flags, "--out", "{run}"), fragment, volatile=True)


HUB_ID = "Qwen/Qwen2.5-VL-7B-Instruct"
MODEL_DIRS = {
    "no config.json": ("models/nocfg", "no config.json"),
    "corrupt config.json": ("models/badjson", "not valid JSON"),
    "unsupported model_type": ("models/llama", "not supported"),
    "no weights": ("models/noweights", "safetensors"),
    "a file, not a folder": ("models/weights.bin", "is a file"),
}

CONFIG_VALUES = [
    ("train.steps=0", "train.steps"),
    ("train.steps=-5", "train.steps"),
    ("train.steps=many", "train.steps"),
    ("train.steps=1.5", "train.steps"),
    ("train.queries_per_episode=0", "train.queries_per_episode"),
    ("train.micro_batch_size=0", "train.micro_batch_size"),
    ("rollout.group_size=0", "rollout.group_size"),
    ("rollout.temperature=-1", "rollout.temperature"),
    ("rollout.temperature=.nan", "rollout.temperature"),
    ("rollout.temperature=.inf", "rollout.temperature"),
    ("rollout.top_p=0", "rollout.top_p"),
    ("rollout.top_p=1.5", "rollout.top_p"),
    ("rollout.top_k=-1", "rollout.top_k"),
    ("rollout.max_new_tokens=0", "rollout.max_new_tokens"),
    ("rollout.batch_size=0", "rollout.batch_size"),
    ("rollout.engine=sglang", "rollout.engine"),
    ("rollout.vllm_gpu_memory_utilization=2", "rollout.vllm_gpu_memory_utilization"),
    ("optim.lr=0", "optim.lr"),
    ("optim.lr=-1e-4", "optim.lr"),
    ("optim.lr=.nan", "optim.lr"),
    ("optim.lr=.inf", "optim.lr"),
    ("optim.schedule=linear", "optim.schedule"),
    ("optim.warmup_frac=1", "optim.warmup_frac"),
    ("optim.betas=[0.9]", "optim.betas"),
    ("optim.grad_clip=0", "optim.grad_clip"),
    ("optim.weight_decay=-1", "optim.weight_decay"),
    ("algo.kl_coef=-0.1", "algo.kl_coef"),
    ("algo.kl_coef=.nan", "algo.kl_coef"),
    ("algo.adv_norm=zscore", "algo.adv_norm"),
    ("algo.loss_agg=sum", "algo.loss_agg"),
    ("algo.eps_low=.nan", "algo.eps_low"),
    ("algo.update_epochs=0", "algo.update_epochs"),
    ("replay.mode=ssr2", "replay.mode"),
    ("replay.alpha=-1", "replay.alpha"),
    ("replay.capacity=0", "replay.capacity"),
    ("eval.every=-1", "eval.every"),
    ("checkpoint.keep=0", "checkpoint.keep"),
    ("checkpoint.every=-1", "checkpoint.every"),
    ("seed=abc", "seed"),
    ("model.dtype=int8", "model.dtype"),
    ("data.source=web", "data.source"),
    ("data.on_error=ignore", "data.on_error"),
    ("data.pixel_cache_mb=-1", "data.pixel_cache_mb"),
    ("reward.timeout_s=0", "reward.timeout_s"),
    ("reward.workers=0", "reward.workers"),
    ("reward.shaping=more", "reward.shaping"),
    ("distributed.backend=mpi", "distributed.backend"),
    ("logging.progress=maybe", "logging.progress"),
    ("stages=5", "stages"),
    ("bogus=1", "bogus"),
    ("rollout.groupsize=4", "groupsize"),
]

SFT_VALUES = [
    ("train.global_batch_size=0", "train.global_batch_size"),
    ("train.micro_batch_size=64", "micro_batch_size"),
    ("train.max_length=0", "train.max_length"),
    ("train.epochs=0", "train.epochs"),
    ("train.epochs=.nan", "train.epochs"),
    ("train.autocast=int8", "train.autocast"),
    ("optim.lr=.nan", "optim.lr"),
    ("eval.fraction=1", "eval.fraction"),
    ("eval.fraction=-0.1", "eval.fraction"),
    ("eval.size=-1", "eval.size"),
    ("data.synthetic.recheck_prob=2", "data.synthetic.recheck_prob"),
    ("data.synthetic.recheck_fix_prob=-1", "data.synthetic.recheck_fix_prob"),
    ("data.synthetic.recheck_style=twice", "data.synthetic.recheck_style"),
    ("data.template=[default,nope]", "'nope'"),
    ("data.synthetic.size=0", "data.synthetic.size"),
    ("data.format=alpaca", "data.format"),
    ("data.source=file", "data.path is required"),
    ("train.step=5", "train.step"),
]


def all_cases() -> list[Case]:
    """Every bad input of the table, grouped by command."""
    cases = [
        Case(
            "config neither a file nor a preset",
            ("train", "{d}/missing.yaml", "run_dir={run}"),
            "neither a file",
            volatile=True,
        ),
        Case("malformed YAML", ("train", "{d}/malformed.yaml"), "not valid YAML"),
        Case("YAML file not UTF-8", ("train", "{d}/binary.yaml"), "not valid YAML"),
        Case("YAML top level a list", ("train", "{d}/list.yaml"), "top level must be a mapping"),
        Case("base: pointing to itself", ("train", "{d}/self-base.yaml"), "loops back"),
        Case("base: cycle of two files", ("train", "{d}/cycle-a.yaml"), "loops back"),
        Case("base: unknown preset", ("train", "{d}/missing-base.yaml"), "neither a file", volatile=True),
        _train("logging.wandb=true without W&B installed", "rethinker[wandb]", "logging.wandb=true"),
        Case("base: a number", ("train", "{d}/number-base.yaml"), "base must be"),
        Case("unknown key in YAML", ("train", "{d}/unknown-key.yaml"), "rollout.group"),
        Case("wrong type in YAML", ("train", "{d}/wrong-type.yaml"), "train.steps"),
        Case("NaN in YAML", ("train", "{d}/nan.yaml"), "optim.lr"),
        Case("override without '='", ("train", "tiny", "run_dir={run}", "train.steps"), "key=value"),
        Case("override value not YAML", ("train", "tiny", "train.steps=[1,"), "cannot parse"),
        Case("override into a scalar", ("train", "tiny", "seed.value=1"), "not a section"),
        Case("unknown flag", ("train", "--bogus"), "unrecognized arguments"),
        _train(
            "stages not covering train.steps", "stages last", "stages=[{steps: 2, max_new_tokens: 8, group_size: 2}]"
        ),
        _train("data.source=file without data.path", "data.path is required", "data.source=file"),
        _train("unknown synthetic family", "families", "data.synthetic.families=[counting]"),
        _train("synthetic image too small", "image_size", "data.synthetic.image_size=8"),
        _train("model.path missing folder", "no such folder", "model.path={d}/no-model"),
        _train("model.path a hub id", "huggingface-cli download", f"model.path={HUB_ID}"),
        _train("rollout.engine=vllm without vLLM", "vLLM", "rollout.engine=vllm"),
        _train("reward.fn unknown name", "reward", "reward.fn=nosuch"),
        _train("reward.fn file missing", "does not exist", "reward.fn={d}/missing.py:score"),
        _train("reward.fn file not Python", "invalid syntax", "reward.fn={d}/broken_reward.py:score"),
        _train("reward.fn function missing", "no function", "reward.fn={d}/reward.py:nosuch"),
        _train("prompt.template unknown", "template", "prompt.template=nonsense"),
        *(_train(f"`{item}`", fragment, item) for item, fragment in CONFIG_VALUES),
        *(
            _train(f"model.path: {kind}", fragment, f"model.path={{d}}/{path}")
            for kind, (path, fragment) in MODEL_DIRS.items()
        ),
        _train_data("data file missing", "missing.jsonl", "data file not found"),
        _train_data("data file empty", "empty.jsonl", "no training examples"),
        _train_data("data file only blank lines", "blank.jsonl", "no training examples"),
        _train_data("line not JSON", "bad-json.jsonl", "invalid JSON"),
        _train_data("line not an object", "not-object.jsonl", "expected a JSON object"),
        _train_data("answer column missing", "no-answer.jsonl", "column missing"),
        _train_data("gold answer null", "null-answer.jsonl", "null"),
        _train_data("gold answer empty", "empty-answer.jsonl", "empty gold answer"),
        _train_data("gold answer blank", "blank-answer.jsonl", "empty gold answer"),
        _train_data("question column missing", "no-question.jsonl", "column missing"),
        _train_data("question empty", "empty-question.jsonl", "empty question"),
        _train_data("question a list", "list-question.jsonl", "expected a string"),
        _train_data("image file missing", "missing-image.jsonl", "image file not found"),
        _train_data("image path empty", "empty-image-path.jsonl", "empty image path"),
        _train_data("image a number", "number-image.jsonl", "expected an image"),
        _train_data("image dict without bytes or path", "dict-image.jsonl", "neither bytes nor a path"),
        _train_data("images column a number", "number-images.jsonl", "expected an image"),
        _train_data("choices a string", "string-choices.jsonl", "option texts"),
        _train_data("JSON file not JSON", "bad.json", "invalid JSON"),
        _train_data("JSON file an object", "object.json", "expected a JSON list"),
        _train_data("unknown suffix", "data.txt", "cannot infer the format"),
        _train_data("folder not an HF dataset", "plain-dir", "not a saved HF datasets directory"),
        _train_data("Parquet file corrupt", "corrupt.parquet", "Parquet"),
        _train_data("Parquet column missing", "no-answer.parquet", "column missing"),
        _train_data("data.eval_path missing", "good.jsonl", "data file not found", "data.eval_path={d}/nope.jsonl"),
        _train_data("data.columns unknown preset", "good.jsonl", "preset", "data.columns={preset: nosuch}"),
        _train_data("data.columns unknown key", "good.jsonl", "bogus", "data.columns={bogus: x}"),
        _train_data(
            "data.columns names a missing column", "good.jsonl", "column missing", "data.columns={answer: gold}"
        ),
        _train_data(
            "pass-rate interval empty",
            "good.jsonl",
            "empty interval",
            "data.passrate_column=P",
            "data.passrate_interval='(1, 0]'",
        ),
        _train_data(
            "pass-rate interval not an interval",
            "good.jsonl",
            "not an interval",
            "data.passrate_column=P",
            "data.passrate_interval=half",
        ),
        _train_data(
            "pass-rate interval unquoted (YAML reads a list)",
            "good.jsonl",
            "quote the interval",
            "data.passrate_column=P",
            "data.passrate_interval=[0, 1]",
        ),
        _train_data(
            "pass-rate column absent: nothing selected",
            "good.jsonl",
            "no training examples",
            "data.passrate_column=PassRate_x",
        ),
        _train_data("image file corrupt", "corrupt-image.jsonl", "cannot decode image", "eval.at_start=false"),
        _train_data("image needle-thin", "thin-image.jsonl", "aspect ratio", "eval.at_start=false"),
        _train_data("virl39k folder without its file", "plain-dir", "data file not found", "data.source=virl39k"),
        _sft("model.path a hub id", "huggingface-cli download", f"model.path={HUB_ID}"),
        _sft("model.path missing folder", "no such folder", "model.path={d}/no-model"),
        Case("malformed YAML", ("sft", "{d}/malformed.yaml"), "not valid YAML"),
        *(_sft(f"`{item}`", fragment, item) for item, fragment in SFT_VALUES),
        _sft_data("data file missing", "missing.jsonl", "data file not found"),
        _sft("eval.path missing", "eval.path", "eval.path={d}/nope.jsonl"),
        _sft_data("data file empty", "empty.jsonl", "no training conversations"),
        _sft_data("line not JSON", "bad-json.jsonl", "invalid JSON"),
        _sft_data("conversation missing", "good.jsonl", "conversation missing"),
        _sft_data("no assistant turn", "sft-no-assistant.jsonl", "no assistant turn"),
        _sft_data("unknown role", "sft-role.jsonl", "unknown role"),
        _sft_data("system turn not first", "sft-system.jsonl", "system turn"),
        _sft_data("placeholders and images disagree", "sft-placeholders.jsonl", "placeholders"),
        _sft_data("turn not an object", "sft-turn.jsonl", "expected an object"),
        _sft_data("content not a string", "sft-content.jsonl", "expected a string"),
        _passrate("--model missing folder", "no such folder", "--model", "{d}/no-model"),
        _passrate("--model a hub id", "huggingface-cli download", "--model", HUB_ID),
        *(
            _passrate(f"--model: {kind}", fragment, "--model", f"{{d}}/{path}")
            for kind, (path, fragment) in MODEL_DIRS.items()
        ),
        _passrate("--data missing", "no such file", data="missing.jsonl"),
        _passrate("--data empty", "no rows to annotate", data="empty.jsonl"),
        _passrate("--data line not JSON", "invalid JSON", data="bad-json.jsonl"),
        _passrate("--data gold answer empty", "empty gold answer", data="empty-answer.jsonl"),
        _passrate("--data suffix unknown", "--format", data="data.txt"),
        _passrate("--out suffix wrong", "give a path ending in .jsonl", "--out", "{run}/out.parquet"),
        _passrate("--samples 0", "--samples", "--samples", "0"),
        _passrate("--batch-queries 0", "--batch-queries", "--batch-queries", "0"),
        _passrate("--max-new-tokens 0", "--max-new-tokens", "--max-new-tokens", "0"),
        _passrate("--limit 0", "--limit", "--limit", "0"),
        _passrate("--workers 0", "--workers", "--workers", "0"),
        _passrate("--temperature nan", "--temperature", "--temperature", "nan"),
        _passrate("--temperature -1", "--temperature", "--temperature", "-1"),
        _passrate("--top-p 0", "--top-p", "--top-p", "0"),
        _passrate("--top-k -1", "--top-k", "--top-k", "-1"),
        _passrate("--samples not a number", "invalid int", "--samples", "many"),
        _passrate("--format unknown", "invalid choice", "--format", "csv"),
        _passrate("--columns neither preset nor JSON", "neither a preset", "--columns", "nonsense"),
        _passrate("--columns JSON not an object", "JSON object", "--columns", "[1]"),
        _passrate("--columns unknown key", "bogus", "--columns", '{"bogus": "x"}'),
        _passrate("--reward unknown", "reward", "--reward", "nosuch"),
        _passrate("--template unknown", "template", "--template", "nonsense"),
        _passrate("side file of other settings", "other settings", "--out", "{d}/resumed/out.jsonl"),
        _passrate("side file header corrupt", "settings header", "--out", "{d}/torn/out.jsonl"),
        Case(
            "--data missing without --format synthetic",
            ("passrate", "--model", "tiny", "--out", "{run}/o.jsonl"),
            "--data is required",
        ),
        _eval(
            "--model a hub id",
            "huggingface-cli download",
            "--model",
            HUB_ID,
            "--benchmark",
            "mathvision",
            "--data",
            "{d}/mathv.jsonl",
        ),
        _eval(
            "--model missing folder",
            "no such folder",
            "--model",
            "{d}/no-model",
            "--benchmark",
            "mathvision",
            "--data",
            "{d}/mathv.jsonl",
        ),
        _eval(
            "--model without config.json",
            "config.json",
            "--model",
            "{d}/models/nocfg",
            "--benchmark",
            "mathvision",
            "--data",
            "{d}/mathv.jsonl",
        ),
        _eval("--benchmark unknown", "nosuch", "--model", "tiny", "--benchmark", "nosuch", "--data", "{d}/mathv.jsonl"),
        _eval(
            "--data missing",
            "no such file",
            "--model",
            "tiny",
            "--benchmark",
            "mathvision",
            "--data",
            "{d}/missing.jsonl",
        ),
        _eval(
            "--data empty benchmark file",
            "empty",
            "--model",
            "tiny",
            "--benchmark",
            "mathvision",
            "--data",
            "{d}/empty.jsonl",
        ),
        _eval(
            "--data not JSON lines",
            "JSON",
            "--model",
            "tiny",
            "--benchmark",
            "mathvision",
            "--data",
            "{d}/bad-json.jsonl",
        ),
        _eval(
            "--batch-size not a number",
            "invalid int",
            "--model",
            "tiny",
            "--benchmark",
            "mathvision",
            "--data",
            "{d}/mathv.jsonl",
            "--batch-size",
            "x",
        ),
        _score(
            "--data empty benchmark file",
            "empty",
            "--benchmark",
            "mathvision",
            "--data",
            "{d}/empty.jsonl",
            "--responses",
            "{d}/responses.jsonl",
        ),
        _score(
            "--responses missing",
            "missing.jsonl",
            "--benchmark",
            "mathvision",
            "--data",
            "{d}/mathv.jsonl",
            "--responses",
            "{d}/missing.jsonl",
        ),
        _score(
            "--benchmark unknown",
            "nosuch",
            "--benchmark",
            "nosuch",
            "--data",
            "{d}/mathv.jsonl",
            "--responses",
            "{d}/responses.jsonl",
        ),
        _score(
            "--data missing",
            "no such file",
            "--benchmark",
            "mathvision",
            "--data",
            "{d}/missing.jsonl",
            "--responses",
            "{d}/responses.jsonl",
        ),
        Case("--model missing folder", ("serve", "--model", "{d}/no-model"), "no such folder", volatile=True),
        Case("--model a hub id", ("serve", "--model", HUB_ID), "huggingface-cli download", volatile=True),
        Case("--model without config.json", ("serve", "--model", "{d}/models/nocfg"), "config.json", volatile=True),
        Case("--port not a number", ("serve", "--port", "http"), "invalid int", volatile=True),
        Case("config file missing", ("coldstart", "{d}/missing.yaml"), "missing.yaml", volatile=True),
        Case("config malformed YAML", ("coldstart", "{d}/malformed.yaml"), "malformed.yaml", volatile=True),
        Case("config unknown key", ("coldstart", "{d}/coldstart-unknown.yaml"), "bogus", volatile=True),
        Case("no config given: the default preset's input is missing", ("coldstart",), "data/vqa.jsonl", volatile=True),
        Case("run folder missing", ("report", "{d}/no-run"), "not found"),
        Case("run folder without metrics", ("report", "{d}/plain-dir"), "metrics"),
        Case("metrics.jsonl corrupt", ("report", "{d}/bad-run", "--out", "{run}"), "metrics.jsonl"),
        Case("nothing to report", ("report",), "nothing to report"),
        Case("--smooth 0", ("report", "{d}/plain-dir", "--smooth", "0"), "--smooth"),
        Case("--labels count differs from runs", ("report", "{d}/plain-dir", "--labels", "a,b"), "--labels"),
        Case("--passrate without --data", ("report", "--passrate", "P", "--out", "{run}"), "go together"),
        Case(
            "--passrate --data missing",
            ("report", "--passrate", "P", "--data", "{d}/missing.jsonl", "--out", "{run}"),
            "not found",
        ),
        Case(
            "--passrate column absent",
            ("report", "--passrate", "PassRate_x", "--data", "{d}/good.jsonl", "--out", "{run}"),
            "PassRate_x",
        ),
        Case("--columns unknown", ("report", "--columns", "nosuch"), "invalid choice"),
        Case("--out missing", ("tiny",), "--out"),
        Case("--family unknown", ("tiny", "--out", "{run}", "--family", "llama"), "invalid choice"),
        Case("--seed not a number", ("tiny", "--out", "{run}", "--seed", "x"), "invalid int"),
        Case(
            "--pretrain with another family",
            ("tiny", "--out", "{run}", "--pretrain", "--family", "qwen2_vl"),
            "--family",
        ),
        Case("--out an existing file", ("tiny", "--out", "{d}/good.jsonl"), "good.jsonl"),
        Case("no command", (), "required"),
        Case("unknown command", ("fly",), "invalid choice"),
    ]
    return cases


def _jsonl(path: Path, rows: list[object]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _row(**fields: object) -> dict[str, object]:
    return {"id": "q1", "question": "How many dots?", "answer": "3", "images": ["dots.png"], **fields}


def write_inputs(d: Path) -> None:
    """Write every file the cases name into folder `d`."""
    d.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), "white").save(d / "dots.png")
    Image.new("RGB", (1000, 2), "white").save(d / "thin.png")
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    texts = {
        "malformed.yaml": "train:\n  steps: [1,\n",
        "list.yaml": "- 1\n- 2\n",
        "self-base.yaml": "base: self-base.yaml\n",
        "cycle-a.yaml": "base: cycle-b.yaml\n",
        "cycle-b.yaml": "base: cycle-a.yaml\n",
        "missing-base.yaml": "base: nosuch-preset\n",
        "number-base.yaml": "base: 5\n",
        "unknown-key.yaml": "base: tiny\nrollout:\n  group: 4\n",
        "wrong-type.yaml": "base: tiny\ntrain:\n  steps: many\n",
        "nan.yaml": "base: tiny\noptim:\n  lr: .nan\n",
        "coldstart-unknown.yaml": "bogus: 1\n",
        "broken_reward.py": "def score(:\n",
        "reward.py": "def score(response, answer):\n    return 0.0\n",
        "data.txt": "question,answer\n",
        "bad.json": "[{",
        "object.json": '{"question": "q", "answer": "a"}',
        "empty.jsonl": "",
        "blank.jsonl": "\n  \n\n",
        "bad-json.jsonl": '{"question": "q",\n',
        "not-object.jsonl": "[1, 2]\n",
    }
    for name, text in texts.items():
        (d / name).write_text(text, encoding="utf-8")
    (d / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    rows = {
        "good.jsonl": [_row(), _row(id="q2")],
        "no-answer.jsonl": [{"id": "q1", "question": "q", "images": []}],
        "null-answer.jsonl": [_row(answer=None)],
        "empty-answer.jsonl": [_row(answer="")],
        "blank-answer.jsonl": [_row(answer="   ")],
        "no-question.jsonl": [{"id": "q1", "answer": "3", "images": []}],
        "empty-question.jsonl": [_row(question=" ")],
        "list-question.jsonl": [_row(question=["a"])],
        "missing-image.jsonl": [_row(images=["nope.png"])],
        "empty-image-path.jsonl": [_row(images=[""])],
        "number-image.jsonl": [_row(images=[5])],
        "dict-image.jsonl": [_row(images=[{"bytes": None, "path": None}])],
        "number-images.jsonl": [_row(images=5)],
        "string-choices.jsonl": [_row(choices="A or B")],
        "corrupt-image.jsonl": [_row(images=["corrupt.png"])] * 4,
        "thin-image.jsonl": [_row(images=["thin.png"])] * 4,
        "sft-no-assistant.jsonl": [{"conversations": [{"from": "human", "value": "hi"}], "images": []}],
        "sft-role.jsonl": [{"conversations": [{"from": "robot", "value": "hi"}], "images": []}],
        "sft-system.jsonl": [
            {
                "conversations": [
                    {"from": "human", "value": "hi"},
                    {"from": "system", "value": "be brief"},
                    {"from": "gpt", "value": "ok"},
                ],
                "images": [],
            }
        ],
        "sft-placeholders.jsonl": [
            {
                "conversations": [{"from": "human", "value": "<image><image>hi"}, {"from": "gpt", "value": "ok"}],
                "images": ["dots.png"],
            }
        ],
        "sft-turn.jsonl": [{"conversations": ["hi"], "images": []}],
        "sft-content.jsonl": [{"conversations": [{"from": "human", "value": 5}], "images": []}],
        "mathv.jsonl": [
            {
                "id": "1",
                "question": "<image1> How many?",
                "options": [],
                "answer": "3",
                "solution": "",
                "level": 1,
                "subject": "counting",
                "image": "dots.png",
            }
        ],
        "responses.jsonl": [{"id": "1", "response": "3"}],
    }
    for name, content in rows.items():
        _jsonl(d / name, content)
    _write_parquets(d)
    _write_models(d)
    _write_runs(d)
    _write_side_files(d)


def _write_parquets(d: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"question": ["q"], "images": [[]]}), d / "no-answer.parquet")
    (d / "corrupt.parquet").write_bytes(b"PAR1 not a parquet file")


def _write_models(d: Path) -> None:
    models = d / "models"
    for name in ("nocfg", "badjson", "llama", "noweights"):
        (models / name).mkdir(parents=True, exist_ok=True)
    (models / "badjson" / "config.json").write_text("{", encoding="utf-8")
    (models / "llama" / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    (models / "llama" / "model.safetensors").write_bytes(b"")
    (models / "noweights" / "config.json").write_text('{"model_type": "qwen2_5_vl"}', encoding="utf-8")
    (models / "weights.bin").write_bytes(b"")
    (d / "plain-dir").mkdir(exist_ok=True)


def _write_runs(d: Path) -> None:
    bad_run = d / "bad-run"
    bad_run.mkdir(exist_ok=True)
    (bad_run / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n{"step": 2, "lo', encoding="utf-8")


def _write_side_files(d: Path) -> None:
    for folder, header in (("resumed", {"settings": {"model": "other"}}), ("torn", "not a header")):
        (d / folder).mkdir(exist_ok=True)
        text = json.dumps(header) if isinstance(header, dict) else header
        (d / folder / "out.jsonl.partial.jsonl").write_text(text + "\n", encoding="utf-8")
