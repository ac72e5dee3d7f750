"""Identity resolution: source record -> person.

``normalize``  contract columns -> matching features (pure functions, vectorised)
``model``      the Splink settings, training, the saved/versioned model
``resolve``    predict + cluster + stable person ids; CSV and warehouse entry points
``evaluate``   pairwise precision / recall / F1 against a truth table
``pairs``      scored pairs (one prediction) and clustering that respects reviewers' decisions
``history``    merge / split history, resolution runs, the any-id -> current-id map
``review``     review queue, link / separate decisions, unmerge (applied at once, kept by later runs)
``explain``    a person's records and Splink's waterfall for the links holding them together
"""
