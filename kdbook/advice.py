"""Advice: the "When to distil" page and the intro's short version, worded from the claims' verdicts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kdutils.headroom import HEADROOM_RATIO, has_headroom

from .claims import NOT_POWERED, NOT_TESTABLE, check_numbers, format_effect
from .report import claim_link

PAGE = "when-to-distil"  # book/<PAGE>.md, as _toc.yml lists it
Claims = dict[str, dict]  # claim id -> claim, over every chapter of one build


@dataclass(frozen=True)
class Lead:
    """One claim behind an answer, and what it advises for each outcome.

    Only ``held`` and ``opposite`` are typed per claim; every other outcome (no effect, inconclusive,
    not testable, missing) is worded from ``whether``, so no sentence can claim more than the verdict.
    """

    claim: str  # the claim's id in the results JSON
    whether: str  # "(whether) ...": what the claim settles, for the outcomes that settle nothing
    held: str  # said when the claim is reproduced
    opposite: str  # said when the run found the opposite (contradicted, or a check not reproduced)


@dataclass(frozen=True)
class Question:
    """A practitioner's question, the claims that answer it, and how the short answer is made."""

    label: str  # the page's anchor for this answer
    title: str
    context: str  # the idea or rule behind the question: never an outcome
    leads: tuple[Lead, ...]
    # the answer in a sentence or two, for the intro; None: see default_headline
    headline: Callable[[Claims], str] | None = None
    notes: Callable[[list[dict], Claims], list[str]] = lambda results, claims: []
    in_short: bool = True  # listed in the intro's short version


# --- wording one claim ---------------------------------------------------------------------------


def said(lead: Lead, claims: Claims) -> str:
    """What the lead's claim tells a practitioner, chosen by its verdict."""
    claim = claims.get(lead.claim)
    if claim is None:
        return (
            f"This build has no result on whether {lead.whether} (claim `{lead.claim}` is not "
            "in its results: its chapter did not run, or no longer measures it)."
        )
    verdict = claim["verdict"]
    if verdict == "reproduced":
        return lead.held
    if verdict in ("contradicted", "not reproduced"):
        return lead.opposite
    if verdict == "no effect":
        return (
            f"As to whether {lead.whether}: the run found no effect larger than the margin "
            "declared before it."
        )
    if verdict == NOT_TESTABLE:
        h = claim["numbers"]["headroom"]
        return (
            f"We could not test whether {lead.whether}: the teacher's test error "
            f"({h['teacher_error']:.1%}) was not at most {HEADROOM_RATIO:g} times the "
            f"student-alone error ({h['student_error']:.1%})."
        )
    if verdict == NOT_POWERED:
        return (
            f"We could not tell whether {lead.whether}: the run was too small to detect the "
            "effect it looks for (its power plan is on the results page)."
        )
    return f"We could not tell whether {lead.whether}."


def numbers(claim: dict) -> str:
    """The claim's effect and interval (a comparison) or its observed value (a check)."""
    if claim["kind"] == "comparative":
        return format_effect(claim)
    return check_numbers(claim)


def citation(claim: dict) -> str:
    """The claim, linked to where it was measured, with its role, verdict and numbers."""
    role = (
        claim.get("role")
        or {"exact": "maths check", "bound": "engineering check"}[claim["kind"]]
    )
    return f"{claim_link(claim)} ({role}: **{claim['verdict']}**, {numbers(claim)})"


def evidence(lead: Lead, claims: Claims) -> str:
    """One bullet: the advice, then the claim that backs it."""
    claim = claims.get(lead.claim)
    backing = f" — {citation(claim)}" if claim else ""
    return f"- {said(lead, claims)}{backing}"


# --- tallies over several claims -----------------------------------------------------------------

# what a "distilled beats alone" verdict says distillation did
DID = {
    "reproduced": "helped in {}",
    "contradicted": "hurt in {}",
    "no effect": "made no difference in {}",
    "inconclusive": "in {} we could not tell",
    NOT_TESTABLE: "was not testable in {}",
    NOT_POWERED: "in {} the run was too small to tell",
}


def present(claims: Claims, ids: Iterable[str]) -> list[dict]:
    return [claims[i] for i in ids if i in claims]


def tally(found: list[dict]) -> str:
    """The comparisons' verdicts counted, as in "helped in 2, hurt in 1 and in 3 we could not tell"."""
    parts = [
        text.format(count)
        for verdict, text in DID.items()
        if (count := counts(found, verdict))
    ]
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def counts(found: list[dict], verdict: str) -> int:
    return sum(c["verdict"] == verdict for c in found)


# --- is my teacher good enough? ------------------------------------------------------------------

DISTILLED_VS_ALONE = (  # every claim "a distilled student beats the same student alone"
    "kd-beats-alone-800-800-hinton",
    "kd-beats-alone-800-800-T4",
    "kd-beats-alone-20-20-blog",
    "kd-beats-alone-20-20-T3",
    "kd-on-views-beats-views-alone",
    "distilled-mobilenet-beats-alone",
    "distilled-mobilenet-beats-alone-short",
    "distillation-beats-none",
    "convnet-taught-20-20-beats-alone",
)
# the chapter that distils one small student from many teachers
GAP_CHAPTER = "06_what_makes_a_good_teacher"
SMALL = "20-20"  # that student, as the chapter's metrics name it


def teacher_headline(claims: Claims) -> str:
    found = present(claims, DISTILLED_VS_ALONE)
    testable = [c for c in found if c["verdict"] != NOT_TESTABLE]
    if not testable:
        return (
            "This build has no comparison of a distilled student with the same student alone "
            "under a teacher that passed the rule."
        )
    ratios = [c["numbers"]["headroom"]["ratio"] for c in testable]
    low, high = f"{min(ratios):.2f}", f"{max(ratios):.2f}"
    span = low if low == high else f"{low} to {high}"
    text = (
        f"Of {len(testable)} comparisons of a distilled student with the same student alone, "
        f"each with a teacher that passed the rule (teacher error {span} times the "
        f"student's), distillation {tally(testable)}. " + teacher_verdict(testable)
    )
    if weak := len(found) - len(testable):
        text += f" {weak} more had a teacher that failed the rule: {NOT_TESTABLE}."
    return text


def teacher_verdict(testable: list[dict]) -> str:
    helped, hurt = counts(testable, "reproduced"), counts(testable, "contradicted")
    if hurt and helped:
        return "A teacher with headroom is needed, not enough: the answers below say what else matters."
    if helped == len(testable):
        return "Every time the teacher passed the rule, distillation helped here."
    if not helped:
        return (
            "Even with such teachers, distillation did not clearly help anywhere here."
        )
    return "Where it made a clear difference, it helped."


def metrics(results: list[dict], notebook: str) -> dict:
    return next((r["metrics"] for r in results if r["notebook"] == notebook), {})


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def gap_teachers_note(results: list[dict], claims: Claims) -> list[str]:
    """Chapter 6's small student distilled from each of its teachers, against the student alone.

    Descriptive (means over seeds, no intervals); empty when the chapter did not record them.
    """
    m = metrics(results, GAP_CHAPTER)
    students, teachers = m.get("students", {}), m.get("teachers", {})
    alone = students.get(f"{SMALL} | alone")
    taught = {
        key.split(" | ", 1)[1]: rows
        for key, rows in students.items()
        if key.startswith(f"{SMALL} | ") and key != f"{SMALL} | alone"
    }
    if not alone or not taught:
        return []
    alone_acc = mean([r["accuracy"] for r in alone])
    rows, below, below_passing = [], 0, 0
    for name, runs in taught.items():
        acc = mean([r["accuracy"] for r in runs])
        passes = rule_passed(teachers.get(name), alone_acc)
        below += acc < alone_acc
        below_passing += acc < alone_acc and passes is True
        rule = {
            True: "teacher passes the rule",
            False: "teacher fails the rule",
            None: "no teacher accuracy recorded",
        }[passes]
        rows.append(f"{name} {acc:.1%} ({rule})")
    return [
        f"Chapter 6 distilled the same small student ({SMALL}) from each of its teachers. "
        f"Alone it scored {alone_acc:.1%}; distilled from {'; '.join(rows)}. "
        f"{below} of {len(taught)} distilled students scored below the student alone, "
        f"{below_passing} of them with a teacher that passed the rule. These are means over "
        "seeds without intervals: a description, not a claim."
    ]


def rule_passed(teacher: dict | None, student_accuracy: float) -> bool | None:
    """The book's headroom rule on a teacher's recorded accuracy; None when none is recorded."""
    if not teacher or "accuracy" not in teacher:
        return None
    return has_headroom(teacher["accuracy"], student_accuracy)


# --- how small may the student be? ---------------------------------------------------------------

SIZES = (  # (student, its "distilled beats alone" claims)
    (
        "the large student (800-800, chapter 2)",
        ("kd-beats-alone-800-800-hinton", "kd-beats-alone-800-800-T4"),
    ),
    (
        "the small student (20-20: chapter 2 with the blog's recipe, chapter 6)",
        (
            "kd-beats-alone-20-20-blog",
            "kd-beats-alone-20-20-T3",
            "convnet-taught-20-20-beats-alone",
        ),
    ),
)


def size_headline(claims: Claims) -> str:
    (_, large_ids), (_, small_ids) = SIZES
    large, small = present(claims, large_ids), present(claims, small_ids)
    if not large or not small:
        return "This build lacks the comparisons of a large and a small student with their baselines."
    parts = [
        f"for {name}, across {len(found)} comparisons, distillation {tally(found)}"
        for name, found in zip([name for name, _ in SIZES], [large, small])
    ]
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + ". " + size_verdict(large, small)


def size_verdict(large: list[dict], small: list[dict]) -> str:
    large_gained, small_gained = (
        counts(large, "reproduced"),
        counts(small, "reproduced"),
    )
    if large_gained and not small_gained:
        lost = " and cost the small one" if counts(small, "contradicted") else ""
        return (
            f"The gain went to the large student{lost}: check a small student against its own "
            "baseline before you ship it."
        )
    if large_gained and small_gained:
        return "Both sizes gained here: the capacity gap did not show on this data."
    if small_gained:
        return "Here the small student gained and the large one did not: the opposite of the capacity gap."
    return (
        "Neither size clearly gained here, so these runs cannot tell the sizes apart."
    )


# --- how long should I train? --------------------------------------------------------------------

PATIENCE = "patience-pays-off-for-function-matching"
FM_LONG = "function-matching-beats-fixed-teacher"
GAIN_GROWS = "distillation-gain-grows-with-length"


def patience_caught_up(claims: Claims) -> bool:
    """Did function matching gain more from the long schedule only by catching up with a fixed teacher?

    True when the larger gain held but, on the long schedule, function matching did not clearly beat
    the fixed teacher and differs from it by less than half that gain: then most of the gain is the
    short run's weakness.
    """
    gain, long = claims.get(PATIENCE), claims.get(FM_LONG)
    if (
        not gain
        or not long
        or gain["verdict"] != "reproduced"
        or long["verdict"] == "reproduced"
    ):
        return False
    return abs(long["numbers"]["effect"]) < gain["numbers"]["effect"] / 2


def fixed_teacher_still_ahead(claims: Claims) -> bool:
    """On the long schedule, did a fixed teacher beat function matching (contradicted)?"""
    return claims[FM_LONG]["verdict"] == "contradicted"


def patience_note(results: list[dict], claims: Claims) -> list[str]:
    if not patience_caught_up(claims):
        return []
    long = claims[FM_LONG]
    behind = fixed_teacher_still_ahead(claims)
    return [
        "Read the larger gain with care: on the long schedule function matching "
        + ("still trailed" if behind else "did not clearly beat")
        + f" the fixed teacher (**{long['verdict']}**, {numbers(long)}; "
        "see {ref}`advice-views`), so most of the difference comes "
        "from function matching's weak short run, not from a strong long one. "
        + (
            "The long schedule narrowed the gap without closing it."
            if behind
            else "It needs a long schedule to catch up; these runs do not show it pulling "
            "ahead."
        )
    ]


def length_headline(claims: Claims) -> str:
    first = said(LEADS[GAIN_GROWS], claims)
    if patience_caught_up(claims):
        return first + (
            " Function matching gained most from a long schedule, and still trailed a fixed "
            "teacher."
            if fixed_teacher_still_ahead(claims)
            else " Function matching needed the long schedule just to catch up with a fixed "
            "teacher."
        )
    return first + " " + said(LEADS[PATIENCE], claims)


# --- which T and alpha? --------------------------------------------------------------------------

SWEEP_CHAPTER = "03_temperature"


def alpha_note(results: list[dict], claims: Claims) -> list[str]:
    """Chapter 3's sweep over alpha, described (no claim tests alpha); empty when not recorded."""
    sweep = metrics(results, SWEEP_CHAPTER).get("alpha_sweep")
    text = (
        "No claim in this book compares values of alpha (the weight on the soft loss), so the "
        "runs give no verdict on it."
    )
    if not sweep:
        return [text]
    means = {alpha: mean(values) for alpha, values in sweep.items()}
    spread = 100 * (max(means.values()) - min(means.values()))
    listed = ", ".join(f"{acc:.1%} at {alpha}" for alpha, acc in means.items())
    return [
        text + f" Chapter 3's sweep over alpha gave mean test accuracies of {listed} "
        f"(alpha = 0 is the student on labels alone): a spread of {spread:.2f} points, "
        "means over seeds without intervals."
    ]


# --- the questions -------------------------------------------------------------------------------


LEADS = {
    lead.claim: lead
    for lead in (
        Lead(
            "early-stopped-teacher-beats-full",
            "a teacher stopped early teaches a small student better than the same teacher fully trained",
            "A teacher stopped early taught the small student better than the same teacher fully "
            "trained: the most accurate teacher is not always the best one to learn from.",
            "The fully trained teacher taught the small student better than the same teacher "
            "stopped early (one exploratory run: a lead, not a rule).",
        ),
        Lead(
            "self-distilled-student-beats-its-teacher",
            "a student of the teacher's own size, distilled from it, beats its teacher",
            "A student of the teacher's own size, distilled from it, beat its teacher.",
            "A student of the teacher's own size, distilled from it, did worse than its teacher: "
            "do not expect a student to pass its teacher.",
        ),
        Lead(
            "assistant-beats-direct",
            "a middle-sized teacher assistant helps a small student",
            "A middle-sized teacher assistant helped: the small student distilled through it beat "
            "the same student distilled from the big teacher directly.",
            "A middle-sized teacher assistant hurt: the small student distilled through it did "
            "worse than distilled from the big teacher directly.",
        ),
        Lead(
            GAIN_GROWS,
            "distillation's gain over training alone grows with a longer schedule",
            "Distillation's gain over training alone grew with the longer schedule: train the "
            "distilled student longer than you would train it alone.",
            "Distillation's gain over training alone shrank with the longer schedule.",
        ),
        Lead(
            "distilled-mobilenet-beats-alone-short",
            "distillation helps already on the short schedule",
            "Distillation already helped on the short schedule: a short run shows whether it "
            "works on your data.",
            "On the short schedule the distilled student did worse than the same network alone.",
        ),
        Lead(
            PATIENCE,
            "function matching gains more from a longer schedule than a fixed teacher does",
            "Function matching gained more from the longer schedule than a fixed teacher did: if "
            "you use it, train long.",
            "Function matching gained less from the longer schedule than a fixed teacher did.",
        ),
        Lead(
            "smaller-students-prefer-lower-T",
            "a smaller student prefers a lower temperature",
            "Moderate temperatures gained more over high ones for the narrow student than for the "
            "wide one: the smaller the student, the lower the T to try.",
            "Moderate temperatures gained more over high ones for the wide student than for the "
            "narrow one, the opposite of the usual advice.",
        ),
        Lead(
            "hinton-30-units-T-2.5-4",
            "a moderate T (2.5 to 4) is best for the narrow student",
            "For the narrow student, T from 2.5 to 4 beat both lower and higher temperatures.",
            "For the narrow student, T from 2.5 to 4 did worse than the better of the low and the "
            "high temperatures: do not assume a moderate T is best; try a few on validation data.",
        ),
        Lead(
            "hinton-300-units-T-above-8-similar",
            "every T of 8 or more works about equally well for the wide student",
            "For the wide student, every T of 8 or more gave about the same accuracy: past that, "
            "T hardly matters.",
            "For the wide student, temperatures of 8 or more gave clearly different accuracies: T "
            "still matters there.",
        ),
        Lead(
            "T2-factor-matters-at-high-T",
            "dropping the T² factor hurts at a high temperature",
            "At a high temperature, dropping the T² factor hurt: keep it.",
            "At a high temperature, the student did better without the T² factor.",
        ),
        Lead(
            "adam-ignores-gradient-scale",
            "Adam's updates ignore a constant factor on the gradients",
            "With Adam, multiplying every gradient by a constant such as T² leaves the updates "
            "almost unchanged: the factor acts only through the balance between the soft and the "
            "hard loss.",
            "With Adam, multiplying every gradient by a constant changed the updates: the T² "
            "factor acts as a step size too.",
        ),
        Lead(
            "high-T-trains-like-logit-matching",
            "distillation at a very high T trains like matching logits",
            "At a very high temperature, distillation trained the same students as matching the "
            "teacher's logits: the two are interchangeable there.",
            "At a very high temperature, distillation and logit matching trained clearly "
            "different students.",
        ),
        Lead(
            FM_LONG,
            "function matching (consistent views and mixup) beats a fixed teacher on a long schedule",
            "On a long schedule, function matching (the teacher labels every augmented and mixed "
            "image the student sees) beat a fixed teacher.",
            "On a long schedule, a fixed teacher beat function matching.",
        ),
        Lead(
            "consistent-beats-independent-views",
            "consistent views beat independent ones",
            "If you augment, have the teacher label the very view the student sees: consistent "
            "views beat independent ones on the long schedule.",
            "Independent views beat consistent ones on the long schedule.",
        ),
        Lead(
            "views-help-alone",
            "shifted views help a student trained alone",
            "Shifted views helped the student trained alone too, with no teacher: measure that "
            "gain before you credit distillation with it.",
            "Shifted views hurt the student trained alone.",
        ),
        Lead(
            "kd-on-views-beats-views-alone",
            "distillation adds anything to what the views give",
            "On the same views, the distilled student still beat the student alone: the two gains "
            "add up.",
            "On the same views, the distilled student did worse than the student alone.",
        ),
        Lead(
            "distillation-beats-none",
            "distillation helps a small transformer student at all",
            "A distilled transformer student beat the same transformer trained without a teacher.",
            "A distilled transformer student did worse than the same transformer trained without "
            "a teacher.",
        ),
        Lead(
            "hard-beats-soft",
            "hard-label distillation beats soft distillation as DeiT normalises it",
            "Hard-label distillation (the teacher's top class as a second label) beat soft "
            "distillation as DeiT normalises it.",
            "Soft distillation as DeiT normalises it beat hard-label distillation.",
        ),
        Lead(
            "distillation-token-adds",
            "a separate distillation token adds anything over hard distillation through the class token",
            "A separate distillation token improved on hard distillation through the class token "
            "alone.",
            "A separate distillation token did worse than hard distillation through the class "
            "token alone, here (an exploratory claim: a reason to doubt the token on small "
            "data, not proof against it).",
        ),
        Lead(
            "distillation-head-agrees-with-teacher",
            "the distillation head follows the teacher more closely than the class head",
            "The distillation head agreed with the teacher more often than the class head of the "
            "same student (agreement also follows accuracy, so this is a lead, not proof that "
            "the token learns the teacher's view).",
            "The distillation head agreed with the teacher less often than the class head of the "
            "same student.",
        ),
        Lead(
            "kd-epoch-costs-like-scratch",
            "a distillation epoch costs about as much as training alone",
            "With the teacher's logits cached, a distillation epoch cost about as much as an "
            "epoch alone: the teacher is paid for once.",
            "Even with the teacher's logits cached, a distillation epoch cost more than the "
            "target over an epoch alone: budget for it.",
        ),
        Lead(
            "kdutils-5x-faster-than-naive",
            "a careful training loop beats a naive one by a wide margin",
            "A careful loop (teacher logits cached, data on the device) ran many times faster "
            "than a naive one: most of a naive loop's time is overhead.",
            "A careful loop was not much faster than a naive one here.",
        ),
    )
}


def pick(*ids: str) -> tuple[Lead, ...]:
    return tuple(LEADS[i] for i in ids)


DECISIVE = ("reproduced", "contradicted", "not reproduced", "no effect")


def default_headline(leads: tuple[Lead, ...], claims: Claims) -> str:
    """The first lead's sentence, then the first of the others that settled something.

    The first lead is the question's main claim, said whatever its verdict; a practitioner also
    wants the firmest finding next to it, so an undecided second claim gives way to a decided one.
    """
    main, *others = leads
    decided = [
        lead for lead in others if claims.get(lead.claim, {}).get("verdict") in DECISIVE
    ]
    return " ".join(said(lead, claims) for lead in [main, *decided[:1]])


def short_answer(question: Question, claims: Claims) -> str:
    if question.headline:
        return question.headline(claims)
    return default_headline(question.leads, claims)


QUESTIONS = (
    Question(
        "advice-teacher",
        "Is my teacher good enough?",
        "Before distilling, train the student alone once and compare test errors. The book tests "
        "a claim about distillation only where the teacher's test error is at most "
        f"{HEADROOM_RATIO:g} times the student-alone error (its *headroom* rule); with a weaker "
        f"teacher a claim is *{NOT_TESTABLE}*. Do the same check on your own models.",
        pick(
            "early-stopped-teacher-beats-full",
            "self-distilled-student-beats-its-teacher",
        ),
        headline=teacher_headline,
        notes=gap_teachers_note,
    ),
    Question(
        "advice-student-size",
        "How small may the student be?",
        "A student much smaller than its teacher may be unable to follow it and gain nothing, "
        "or lose {cite:p}`cho2019efficacy`; a middle-sized *teacher assistant* between them is "
        "one proposed remedy {cite:p}`mirzadeh2020assistant`.",
        pick("assistant-beats-direct"),
        headline=size_headline,
    ),
    Question(
        "advice-length",
        "How long should I train?",
        "Distillation targets say more per image than labels do, and the claim is that a student "
        "needs a longer schedule to absorb them {cite:p}`beyer2022patient`. Every run here is "
        "scored at the last epoch of a fixed schedule, not at its best epoch.",
        pick(GAIN_GROWS, "distilled-mobilenet-beats-alone-short", PATIENCE),
        headline=length_headline,
        notes=patience_note,
    ),
    Question(
        "advice-temperature",
        "Which temperature and alpha?",
        "The soft loss compares teacher and student at temperature T and is multiplied by T²; "
        "the combined loss is (1 - alpha) times the cross-entropy on labels plus alpha times the "
        "soft loss.",
        pick(
            "smaller-students-prefer-lower-T",
            "hinton-30-units-T-2.5-4",
            "hinton-300-units-T-above-8-similar",
            "T2-factor-matters-at-high-T",
            "adam-ignores-gradient-scale",
            "high-T-trains-like-logit-matching",
        ),
        notes=alpha_note,
    ),
    Question(
        "advice-views",
        "Consistent views or a fixed teacher?",
        "A *fixed* teacher labels each training image once; with *consistent views* it labels "
        "every augmented view the student sees; *function matching* adds mixup and learns from "
        "the teacher alone, without labels {cite:p}`beyer2022patient`. Views can help a student trained alone "
        "as well, so the book keeps the two contrasts apart.",
        pick(
            FM_LONG,
            "consistent-beats-independent-views",
            "views-help-alone",
            "kd-on-views-beats-views-alone",
        ),
    ),
    Question(
        "advice-transformer",
        "A transformer student: hard or soft targets, and the distillation token?",
        "DeiT {cite:p}`touvron2021deit` distils a vision transformer with the teacher's top "
        "class as a second label (*hard* distillation), read by a separate distillation token.",
        pick(
            "distillation-beats-none",
            "hard-beats-soft",
            "distillation-token-adds",
            "distillation-head-agrees-with-teacher",
        ),
    ),
    Question(
        "advice-cost",
        "What does distillation cost in training time?",
        "With the teacher's logits computed once and cached, a distillation step adds only a "
        "second loss to the student's step.",
        pick("kd-epoch-costs-like-scratch", "kdutils-5x-faster-than-naive"),
        in_short=False,
    ),
)


# --- pages ---------------------------------------------------------------------------------------


def claim_ids() -> list[str]:
    """Every claim the page cites, in the page's order."""
    cited = [lead.claim for q in QUESTIONS for lead in q.leads]
    cited += [*DISTILLED_VS_ALONE, *(i for _, ids in SIZES for i in ids)]
    return list(dict.fromkeys(cited))


def claims_by_id(results: list[dict]) -> Claims:
    return {c["id"]: c for r in results for c in r["claims"]}


def answer(question: Question, results: list[dict], claims: Claims) -> list[str]:
    """One question's section: the rule, the short answer, then each claim behind it."""
    return [
        f"({question.label})=",
        f"## {question.title}",
        "",
        question.context,
        "",
        f"**In short.** {short_answer(question, claims)}",
        "",
        *[evidence(lead, claims) for lead in question.leads],
        "",
        *[line for note in question.notes(results, claims) for line in (note, "")],
    ]


def advice_page(profile: str, results: list[dict]) -> str:
    """The "When to distil" page (MyST markdown), worded from the verdicts of ``results``."""
    lines = [
        "# When to distil",
        "",
        f"A practitioner's questions, answered by the runs of profile `{profile}`. This page is "
        "generated by `python -m kdbook book` from the verdicts: when a verdict changes, so do "
        "the words. Each answer cites the claims behind it, with the verdict, the effect and "
        "its confidence interval (CI), linked to the section that measured it. *Reproduced* "
        "means it held here; *contradicted*, the run found the opposite; *inconclusive*, we "
        "could not tell; *no effect*, any effect is smaller than the margin declared before "
        "the run; *not powered here*, the plan said before the run that it was too small to "
        "decide, so it is reported without a verdict; *not reproduced*, an engineering goal "
        "(a bound) was missed. *Exploratory* results are leads, not findings. These are small models "
        "on small data sets under a CPU budget: take them as what to try first on your data "
        "({doc}`../notebooks/07_distil_your_own_model`), not as laws.",
        "",
    ]
    if not results:
        return "\n".join(
            lines
            + [
                "```{warning}",
                f"No results were found for profile `{profile}`: run "
                f"`python -m kdbook run --profile {profile}` first.",
                "```",
                "",
            ]
        )
    claims = claims_by_id(results)
    for question in QUESTIONS:
        lines += answer(question, results, claims)
    lines.append(
        "Every claim, with its protocol and raw numbers, is on the {doc}`results` page."
    )
    return "\n".join(lines).rstrip() + "\n"


def advice_summary(profile: str, results: list[dict]) -> str:
    """The intro's "When to distil, in short": one bullet per question, linked to the full answer."""
    lines = ["## When to distil, in short", ""]
    if not results:
        return "\n".join(
            lines + [f"No runs of profile `{profile}` yet: see {{doc}}`{PAGE}`.", ""]
        )
    claims = claims_by_id(results)
    lines += [
        f"Generated from the verdicts of this build's runs; {{doc}}`{PAGE}` gives the claims "
        "behind each answer and says what each verdict means.",
        "",
    ]
    lines += [
        f"- **{q.title}** {short_answer(q, claims)} ({{ref}}`details <{q.label}>`)"
        for q in QUESTIONS
        if q.in_short
    ]
    return "\n".join(lines) + "\n"
