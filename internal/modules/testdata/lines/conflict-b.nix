{ lib, ... }:
{
  config = lib.mkIf true {
    services.foo.name = "beta"; # def
  };
}
