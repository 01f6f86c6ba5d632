{ ... }:
{
  services.foo.name = "x";
  services.foo.enabel = true; # def
}
