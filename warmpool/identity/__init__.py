"""Identity resolution: source record -> person.

``normalize``  contract columns -> matching features (pure functions, vectorised)
``model``      the Splink settings, training, the saved/versioned model
``resolve``    predict + cluster + stable person ids; CSV and warehouse entry points
``evaluate``   pairwise precision / recall / F1 against a truth table
``synthetic``  a seeded sandbox-like world used to train and measure the model
"""
