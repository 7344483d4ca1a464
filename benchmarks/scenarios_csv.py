"""A CSV of generated scenarios unlike the demo journal, for `train_throughput.py --data`.

    .venv/bin/python benchmarks/scenarios_csv.py /tmp/scenarios.csv [--count 60] [--seed 11] [--long]

Other fields and viewpoints than the demo, and lengths from a one-line note to a long account (most notes far
shorter than the demo's), with a second perspective on some: a check that the training speed-up does not
depend on the demo journal's shape. Written with the journal's own CSV writer, so `localtune-cli import`
reads it too.

`--long` writes long first-person accounts instead (about 400-550 tokens per training example, the prompt
included, and a few sentences of analysis): a stand-in for the long real posts that are not in this repository.
Write the files outside the repository (e.g. /tmp): they are plain journal text, even if synthetic.
"""

from __future__ import annotations

import argparse
import random

from localtune.journal import Perspective, Scenario
from localtune.journal.io import export_file

FIELDS = {
    "Logistics": "Drivers log rest breaks; dispatch may not pressure anyone past legal hours.",
    "Veterinary clinic": "Controlled drugs are counted at each shift change; owners hear the costs before treatment.",
    "Public school": "Grades are set by the teacher alone; parents are answered within two working days.",
    "Restaurant kitchen": "Allergens are labelled on every tray; tips are pooled and split by hours worked.",
    "Law firm": "Billable hours are recorded the same day; client files never leave the office system.",
    "Call centre": "Calls are recorded for quality; agents may end abusive calls after one warning.",
}
WHO = ["the shift lead", "a new hire", "the owner", "my supervisor", "a senior colleague", "the regional manager",
       "a temp worker", "the union rep"]
DID = ["rewrote the rota without asking anyone", "shared a customer's complaint in the group chat",
       "refused to sign off on the overtime sheet", "asked me to backdate a log entry",
       "covered for a colleague who came in late", "reported a near miss to head office",
       "moved my holiday at two days' notice", "praised the team publicly but gave the bonus to one person",
       "skipped the handover briefing to leave early", "told a client the delay was my fault"]
DETAIL = ["Nobody had explained the new procedure to us.", "This happened in front of two customers.",
          "The same thing happened last winter as well.", "I only found out from a message on the notice board.",
          "There was a genuine emergency at the time.", "Afterwards they apologised in private.",
          "The written policy is vague on this point.", "Three of us raised it at the next team meeting.",
          "It cost the company a day of work to fix.", "I had asked for this in writing a month earlier.",
          "My contract says nothing about it.", "Other branches handle it differently.",
          "When I asked why, I was told it was not up for discussion.", "A customer later wrote a formal complaint.",
          "The person involved is on probation."]
WHY = ["Acting without consultation undermines trust even when the decision itself is defensible.",
       "The norms of this field put safety first, and that was respected.",
       "Sharing someone's details beyond the people who need them breaches a basic duty.",
       "Good faith under time pressure deserves some allowance.",
       "The rules exist precisely for moments like this, and bending them sets a precedent.",
       "The outcome was fine, but the process left the team exposed.",
       "Public credit and private reward should match; here they did not.",
       "An apology repairs the relationship but not the record."]
LABELS = ["reasonable", "problematic", "mixed"]


def scenarios(count: int, seed: int, long: bool = False) -> list[Scenario]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        field = rng.choice(list(FIELDS))
        # from a short note to a long account; --long: long accounts only
        details = rng.randint(24, 34) if long else rng.choice([1, 2, 3, 5, 8, 12, 16])
        situation = f"{rng.choice(WHO).capitalize()} {rng.choice(DID)}. " + " ".join(
            rng.choice(DETAIL) for _ in range(details))
        perspectives = [Perspective(rng.choice(["employee", "manager"]), rng.choice(LABELS),
                                    " ".join(rng.sample(WHY, rng.randint(1, 5))))]
        if rng.random() < 0.4:
            perspectives.append(Perspective("HR", rng.choice(LABELS), " ".join(rng.sample(WHY, rng.randint(1, 3)))))
        out.append(Scenario(situation=situation, context=FIELDS[field] if rng.random() < 0.6 else "",
                            industry=field, perspectives=perspectives))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="the CSV file to write")
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--long", action="store_true", help="long accounts only (~400-550 tokens per example)")
    args = ap.parse_args()
    print(f"{export_file(args.out, scenarios(args.count, args.seed, args.long))} scenarios written to {args.out}")


if __name__ == "__main__":
    main()
