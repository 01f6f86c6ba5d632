# Native helpers: under onix, importing this file from the embedded
# <onix/lib> yields Go-implemented functions instead (internal/eval/onixlib.go);
# elsewhere (real Nix, a checkout) it is empty and the library falls back to
# pure Nix.
{ }
