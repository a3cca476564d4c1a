"""The ``asynclm`` command line: every command, and the only code that prints
usage errors or exits the process.

:mod:`.console` is the console script; :mod:`.app` the command tree.  This
package imports nothing itself, so the console script starts light.
"""
