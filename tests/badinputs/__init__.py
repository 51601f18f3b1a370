"""The acceptance catalogue of bad inputs (issue 11): a world of good and broken files built once per session
(world.py) and a table of cases over every subcommand (cases.py), run by tests/test_bad_inputs.py."""
