"""QA scorecards (YAML files, no code): the default folder of ``[scoring] scorecards_dir``.

A package only so that a wheel installs the shipped scorecards next to the code
(package data, like speech/data/): ``analysis.scorecards.scorecards_dir`` finds this folder
relative to the project, in a checkout and in an installed environment alike.
"""
