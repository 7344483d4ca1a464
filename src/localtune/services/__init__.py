"""The one way in for both front ends (cli/ and ui/): each use case wires vault, journal, dataset and engine once.

- journal.py     the vault and journal: create, passphrases, imports, the demo, drafts, redaction names, printing
- training.py    the training set per journal revision, the plan and its estimate, a run into the vault
- adapters.py    AdapterStore: the adapters sealed in the vault, their names and base models
- reading.py     ReaderPool (the session's model in memory), decoding settings, the three-way comparison
- evaluation.py  accuracy of base, few-shot and tuned on held-out entries, kept per adapter
- local_models.py base models on this computer: discovery, the catalog, adding, fitting, downloading
"""
