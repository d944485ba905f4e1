"""The package version (also ``ledgerlm.__version__``); a module of its own so that code inside the
package (OpenTelemetry's instrumentation scope) can name it without importing the public surface."""

__version__ = "0.1.0"
