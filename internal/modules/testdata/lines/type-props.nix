{ lib, ... }:
{
  config = lib.mkMerge [
    { services.foo.name = lib.mkDefault "d"; }
    (lib.mkIf true {
      services.foo = {
        port = lib.mkForce 70000; # def
      };
    })
  ];
}
