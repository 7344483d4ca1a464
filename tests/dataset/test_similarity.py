from dataset_factory import make_journal

from localtune.dataset.similarity import jaccard, near_duplicate_clusters, normalise, shingle_hashes

BASE = (
    "The night shift lead moved two nurses to the emergency ward without asking them, because the agency "
    "staff had not arrived; one of them had already worked a double shift that week."
)


def test_normalise_folds_case_punctuation_and_spaces():
    assert normalise("  The  Lead, moved -- TWO nurses!\n") == "the lead moved two nurses"


def test_jaccard_of_shingle_sets():
    assert jaccard(shingle_hashes("abcdef"), shingle_hashes("abcdefg")) == 2 / 3  # {abcde, bcdef} vs + {cdefg}
    assert jaccard(shingle_hashes("abcdef"), shingle_hashes("abcdef")) == 1.0
    assert jaccard(shingle_hashes(""), shingle_hashes("abc")) == 0.0


def test_small_edits_are_near_duplicates():
    texts = [
        BASE,
        BASE.upper().replace(",", ""),  # same words, other case and punctuation
        BASE.replace("two nurses", "two of the nurses"),
        "A contractor emailed the whole client list from a personal address to ask for a reference.",
        BASE.replace("double", "triple"),
    ]
    assert near_duplicate_clusters(texts) == [[0, 1, 2, 4]]


def test_distinct_situations_are_not_near_duplicates():
    texts = [s.situation for s in make_journal(300)]
    assert near_duplicate_clusters(texts) == []


def test_empty_texts_never_pair():
    assert near_duplicate_clusters(["", "", "  ", "x"]) == []


def test_a_big_group_of_copies_is_one_cluster():
    texts = [f"{BASE} Case {n}." for n in range(500)] + ["Something else entirely, about payroll."]
    assert near_duplicate_clusters(texts) == [list(range(500))]
