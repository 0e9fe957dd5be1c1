"""Every output a user can pull, dumped as text rows from a fresh store of the demo, and two dumps compared.

Run before and after a change that must leave the outputs as they were (``python -m tools.outputs dump DIR``, then
``python -m tools.outputs compare BEFORE AFTER``); docs/development.md says how. A developer's tool: the product
never imports it.
"""
