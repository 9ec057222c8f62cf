"""The ground floor: run-state paths and the toolkit for the processes the project starts.

Imports nothing from the rest of the project (and never zenml), so every layer, serving and monitoring included,
can use it.
"""
