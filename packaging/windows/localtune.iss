; Inno Setup 6 script: the Windows installer for localtune (CPU build).
; Build the app first (pyinstaller packaging\localtune.spec -> dist\localtune\), then:
;   iscc /DAppVersion=0.1.0 /DDistDir=..\..\dist\localtune /DOutDir=..\..\out\windows packaging\windows\localtune.iss
; Installs per user by default (no admin prompt); the user may choose all users.
; Uninstalling removes the program, never the journal: the vault in %LOCALAPPDATA%\localtune stays (it is the
; user's data and it is encrypted); the uninstaller says so.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef DistDir
  #define DistDir "..\..\dist\localtune"
#endif
#ifndef OutDir
  #define OutDir "..\..\out\windows"
#endif

[Setup]
AppId={{6E3A2F4B-8C1D-4E57-9B0A-5D2C7F91A3E4}
AppName=localtune
AppVersion={#AppVersion}
AppVerName=localtune {#AppVersion}
AppPublisher=The localtune developers
DefaultDirName={autopf}\localtune
DefaultGroupName=localtune
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutDir}
OutputBaseFilename=localtune-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\resources\icons\localtune.ico
UninstallDisplayIcon={app}\localtune.exe
UninstallDisplayName=localtune
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\localtune"; Filename: "{app}\localtune.exe"; Comment: "Your private workplace journal and AI"
Name: "{group}\localtune self-test"; Filename: "{app}\localtune-cli.exe"; Parameters: "--selftest"; Comment: "Check that localtune works on this computer"
Name: "{group}\Uninstall localtune"; Filename: "{uninstallexe}"
Name: "{autodesktop}\localtune"; Filename: "{app}\localtune.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\localtune.exe"; Description: "{cm:LaunchProgram,localtune}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Python may write caches beside the program; the journal lives elsewhere and is kept.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"

[Messages]
UninstalledAll=localtune was removed from your computer.%n%nYour encrypted journal was kept in %LOCALAPPDATA%\localtune; delete that folder yourself if you no longer need it.
