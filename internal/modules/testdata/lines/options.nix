{ lib, ... }:
let inherit (lib) mkOption types; in
{
  options.services.foo = {
    port = mkOption { type = types.port; default = 80; }; # decl:port
    name = mkOption { type = types.str; }; # decl:name
    flags = mkOption { type = types.listOf types.str; default = [ ]; };
    users = mkOption {
      type = types.attrsOf (types.submodule {
        options.uid = mkOption { type = types.int; };
      });
      default = { };
    };
  };
}
